//! How the engine tells its caller what is happening, without knowing whether a terminal,
//! a log or nothing at all is listening. Called from the transfer loop once per buffer, so
//! implementations must be cheap.

/// Receives the events of transfers and the notes worth telling the user.
pub trait Progress: Send + Sync {
    /// Several files follow (a recursive or multi-file transfer): `files` files, `bytes` in all.
    fn batch(&self, _files: usize, _bytes: u64) {}
    /// A transfer of `name` starts: `total` bytes in the whole file when known, of which
    /// `done` are already in place (a resumed transfer: they do not move either).
    fn start(&self, _name: &str, _total: Option<u64>, _done: u64) {}
    /// A file of `bytes` was skipped (already identical): it will not move, so a batch's
    /// total must not wait for it.
    fn skip(&self, _bytes: u64) {}
    /// `bytes` more moved.
    fn advance(&self, _bytes: u64) {}
    /// The transfer started last ended (successfully or not).
    fn finish(&self) {}
    /// Something the user should know ("resuming at ...", "skipped: identical").
    fn note(&self, _message: &str) {}
    /// One file of a batch failed; the batch goes on. Said even when notes are not wanted:
    /// it is an error, and the batch's result only counts it.
    fn failed(&self, name: &str, error: &crate::Error) {
        self.note(&format!("{name}: {error}"));
    }
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {}
