//! Compressed sparse rows: the records our linfa algorithms fit and predict on.

use linfa::dataset::Records;

/// One sparse vector: sorted, unique column indices and their values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVec {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

/// A borrowed row of a [`SparseMatrix`] (or a [`SparseVec`]).
#[derive(Debug, Clone, Copy)]
pub struct SparseRow<'a> {
    pub indices: &'a [u32],
    pub values: &'a [f32],
}

impl SparseRow<'_> {
    /// Iterate over `(column, value)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.indices
            .iter()
            .map(|&j| j as usize)
            .zip(self.values.iter().copied())
    }
}

impl SparseVec {
    pub fn row(&self) -> SparseRow<'_> {
        SparseRow {
            indices: &self.indices,
            values: &self.values,
        }
    }
}

/// Row-major sparse matrix (CSR) with a fixed number of columns.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseMatrix {
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
    ncols: usize,
}

impl SparseMatrix {
    /// An empty matrix with `ncols` columns.
    pub fn new(ncols: usize) -> Self {
        SparseMatrix {
            indptr: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
            ncols,
        }
    }

    /// Append a row; its indices must be sorted and below `ncols`.
    pub fn push(&mut self, row: &SparseVec) {
        debug_assert!(row.indices.windows(2).all(|w| w[0] < w[1]));
        debug_assert!(row.indices.iter().all(|&j| (j as usize) < self.ncols));
        self.indices.extend_from_slice(&row.indices);
        self.values.extend_from_slice(&row.values);
        self.indptr.push(self.indices.len());
    }

    pub fn from_rows(ncols: usize, rows: &[SparseVec]) -> Self {
        let mut m = SparseMatrix::new(ncols);
        for r in rows {
            m.push(r);
        }
        m
    }

    pub fn nrows(&self) -> usize {
        self.indptr.len() - 1
    }

    pub fn ncols(&self) -> usize {
        self.ncols
    }

    /// Number of stored (non-zero) entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    pub fn row(&self, i: usize) -> SparseRow<'_> {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        SparseRow {
            indices: &self.indices[a..b],
            values: &self.values[a..b],
        }
    }

    pub fn rows(&self) -> impl Iterator<Item = SparseRow<'_>> + '_ {
        (0..self.nrows()).map(|i| self.row(i))
    }
}

impl Records for SparseMatrix {
    type Elem = f32;

    fn nsamples(&self) -> usize {
        self.nrows()
    }

    fn nfeatures(&self) -> usize {
        self.ncols
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let a = SparseVec {
            indices: vec![0, 3],
            values: vec![1.0, 2.0],
        };
        let b = SparseVec::default();
        let m = SparseMatrix::from_rows(4, &[a.clone(), b, a]);
        assert_eq!(m.nsamples(), 3);
        assert_eq!(m.nfeatures(), 4);
        assert_eq!(m.nnz(), 4);
        assert_eq!(m.row(1).indices.len(), 0);
        assert_eq!(m.row(2).iter().collect::<Vec<_>>(), [(0, 1.0), (3, 2.0)]);
    }
}
