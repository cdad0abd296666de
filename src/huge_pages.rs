//! The global allocator of the `warta` binary: the system allocator, with every large block
//! (the model's lookup tables, weights and counts) placed on 2 MiB boundaries and marked for
//! transparent huge pages, in the batch commands.
//!
//! Prediction reads these tables at random, a few cache lines per word; with 4 KiB pages
//! nearly every one of those reads also misses the TLB and walks the page table. Backed by
//! 2 MiB pages, a model of several MiB needs a handful of TLB entries instead of thousands.
//!
//! The batch commands also keep freed memory for reuse ([`keep_freed_memory`]), so training's
//! short-lived large buffers are not faulted in afresh fold after fold.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether large blocks go on huge pages: set by the batch commands. A server keeps many
/// large blocks for a short while (requests, cross-validation); backed by huge pages its
/// resident memory doubled (82 → 174 MB with the embedded model), for a gain only the
/// throughput of one long batch needs.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Put the large blocks allocated from now on on huge pages (Linux only).
pub fn enable() {
    ENABLED.store(cfg!(target_os = "linux"), Ordering::Relaxed);
}

/// Keep freed memory in the process for the next block, in the batch commands. glibc hands
/// large blocks back to the kernel when they are freed and trims the heap's free top past a
/// few MiB, so training's many large, short-lived buffers (per fold, per label, per
/// calibration fit) came back as fresh pages, faulted in and zeroed again. Blocks up to
/// 32 MiB now come from the heap, and a heap keeps up to 32 MiB free before it is trimmed:
/// `warta train` on SIB-200 (with its 5-fold report) took 8.7k page faults instead of 19k and
/// 0.16–0.17 s instead of 0.19–0.22 s, for 43–45 MB resident instead of 30–41 (a 2^20-bucket
/// hashed model: 0.80–0.83 GB instead of 0.62–0.72). The server keeps glibc's defaults, so
/// its resident memory falls back after a large request. glibc only; elsewhere a no-op.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator's thresholds; called before other threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 32 << 20);
    }
}

/// Blocks this large or larger go on huge pages.
const LARGE: usize = 512 << 10;
/// A transparent huge page on x86_64 and most aarch64 kernels.
const HUGE_PAGE: usize = 2 << 20;

pub struct HugePageAlloc;

impl HugePageAlloc {
    /// The layout a block is really allocated with: large blocks aligned to a huge page
    /// once [`enable`]d. Blocks allocated before that are freed with an aligned layout too:
    /// harmless, because this is only ever enabled on Linux, where `System` frees any block
    /// with `free`, whatever its layout.
    #[inline]
    fn actual(layout: Layout) -> Layout {
        if layout.size() >= LARGE && ENABLED.load(Ordering::Relaxed) {
            Layout::from_size_align(layout.size(), layout.align().max(HUGE_PAGE)).unwrap_or(layout)
        } else {
            layout
        }
    }
}

// SAFETY: every block comes from `System` and goes back to it (see `actual` on its
// layout); `madvise` only changes how the kernel backs pages of a block we own, never its
// contents.
unsafe impl GlobalAlloc for HugePageAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let actual = Self::actual(layout);
        let p = unsafe { System.alloc(actual) };
        if actual.align() >= HUGE_PAGE && !p.is_null() {
            advise(p, actual.size());
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let actual = Self::actual(layout);
        let p = unsafe { System.alloc_zeroed(actual) };
        if actual.align() >= HUGE_PAGE && !p.is_null() {
            advise(p, actual.size());
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, Self::actual(layout)) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        if Self::actual(layout) == layout && Self::actual(new_layout) == new_layout {
            // neither block is placed by us (small, or huge pages not enabled, as in the
            // server): the system's realloc, which grows a large block in place or by mremap
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // into, out of or within the huge-page class: a new block, as `GlobalAlloc::realloc` does
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

/// Ask for huge pages over a fresh block (its pages are not touched yet, so they fault in
/// as huge pages where the kernel allows: `enabled` set to `madvise` or `always`). The
/// advice covers whole huge pages: a block's last one is only used if all of it is advised.
#[inline]
fn advise(p: *mut u8, size: usize) {
    #[cfg(target_os = "linux")]
    // SAFETY: the range is the block just allocated; MADV_HUGEPAGE changes no contents.
    unsafe {
        libc::madvise(p.cast(), size.next_multiple_of(HUGE_PAGE), libc::MADV_HUGEPAGE);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (p, size);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_contents_across_the_size_classes() {
        enable();
        let a = HugePageAlloc;
        // small → large → small again, and a large block allocated zeroed
        let small = Layout::from_size_align(1000, 8).unwrap();
        unsafe {
            let p = a.alloc(small);
            assert!(!p.is_null());
            for i in 0..1000 {
                *p.add(i) = (i % 251) as u8;
            }
            let big = a.realloc(p, small, 3 * LARGE);
            assert!(!big.is_null());
            if cfg!(target_os = "linux") {
                assert_eq!(big as usize % HUGE_PAGE, 0, "large blocks start on a huge page");
            }
            for i in 0..1000 {
                assert_eq!(*big.add(i), (i % 251) as u8);
            }
            *big.add(3 * LARGE - 1) = 7;
            let grown = a.realloc(big, Layout::from_size_align(3 * LARGE, 8).unwrap(), 5 * LARGE);
            assert_eq!(*grown.add(3 * LARGE - 1), 7);
            assert_eq!(*grown.add(999), (999 % 251) as u8);
            let back = a.realloc(grown, Layout::from_size_align(5 * LARGE, 8).unwrap(), 500);
            for i in 0..500 {
                assert_eq!(*back.add(i), (i % 251) as u8);
            }
            a.dealloc(back, Layout::from_size_align(500, 8).unwrap());

            let zeroed = Layout::from_size_align(LARGE, 64).unwrap();
            let z = a.alloc_zeroed(zeroed);
            assert!(!z.is_null());
            assert!((0..LARGE).step_by(4093).all(|i| *z.add(i) == 0));
            a.dealloc(z, zeroed);
        }
    }

    #[test]
    fn a_vector_on_huge_pages_behaves_as_any_other() {
        // the allocator as collections use it, through a Vec that grows across the threshold
        enable();
        let a = HugePageAlloc;
        let layout = |n: usize| Layout::array::<u32>(n).unwrap();
        unsafe {
            let mut cap = 16usize;
            let mut p = a.alloc(layout(cap)) as *mut u32;
            for i in 0..LARGE as u32 {
                if i as usize == cap {
                    p = a.realloc(p.cast(), layout(cap), layout(cap * 2).size()) as *mut u32;
                    cap *= 2;
                }
                *p.add(i as usize) = i.wrapping_mul(2_654_435_761);
            }
            assert!((0..LARGE as u32).all(|i| *p.add(i as usize) == i.wrapping_mul(2_654_435_761)));
            a.dealloc(p.cast(), layout(cap));
        }
    }
}
