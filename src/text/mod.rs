//! Text → tokens: a Unicode-aware word tokenizer with character offsets, plus stopwords.

pub mod fasthash;
mod stem;
mod stopwords;
pub(crate) mod swar;
mod tokenize;

pub use stem::stem;
pub use stopwords::{is_stopword, list as stopword_list, Language};
pub use tokenize::{char_offsets, words, CharOffsets, Word};
