//! Commands over several files: what they did, and the failures they went past.

use crate::error::{Error, Result};
use crate::files::Outcome;

/// What a recursive or multi-file transfer did: the outcomes, and the failures it went past.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub outcomes: Vec<Outcome>,
    pub failures: Vec<(String, Error)>,
}

impl BatchOutcome {
    /// The outcomes, or [`Error::Batch`] (of the class of the first failure) when any file
    /// failed.
    pub fn into_result(mut self) -> Result<Vec<Outcome>> {
        if self.failures.is_empty() {
            return Ok(self.outcomes);
        }
        let failed = self.failures.len();
        Err(Error::Batch {
            failed,
            total: failed + self.outcomes.len(),
            first: Box::new(self.failures.swap_remove(0).1),
        })
    }
}
