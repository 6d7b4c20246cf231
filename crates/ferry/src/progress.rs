//! Progress on the terminal: a bar per file (bytes, rate, ETA, name) and an overall bar for
//! multi-file transfers, drawn on stderr only when stdout is a terminal and not `-q`.
//! Otherwise notes go to stderr as plain lines (none with `-q`), and the caller prints one
//! summary line at the end.

use std::io::IsTerminal;
use std::sync::Mutex;

use ferry_client::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Bars {
    show: bool,
    quiet: bool,
    multi: MultiProgress,
    file: Mutex<Option<ProgressBar>>,
    overall: Mutex<Option<ProgressBar>>,
}

const FILE_STYLE: &str =
    "{msg:30!} {wide_bar} {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12} ETA {eta:>4}";
const TOTAL_STYLE: &str =
    "{msg:30!} {wide_bar} {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12} ETA {eta:>4}";

impl Bars {
    pub fn new(quiet: bool) -> Bars {
        let show = !quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        let target = if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Bars {
            show,
            quiet,
            multi: MultiProgress::with_draw_target(target),
            file: Mutex::new(None),
            overall: Mutex::new(None),
        }
    }

    /// Notes (unless quiet) but never a bar: for a download printed on the terminal.
    pub fn notes_only(quiet: bool) -> Bars {
        Bars {
            show: false,
            quiet,
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            file: Mutex::new(None),
            overall: Mutex::new(None),
        }
    }

    fn bar(&self, len: Option<u64>, template: &str, msg: String) -> ProgressBar {
        // Added to the group before anything is set: a bar still on its own would draw
        // itself once outside the group and leave a stale line behind.
        let pb = self.multi.add(match len {
            Some(l) => ProgressBar::new(l),
            None => ProgressBar::new_spinner(),
        });
        if let Ok(style) = ProgressStyle::with_template(template) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_message(msg);
        pb
    }

    /// Removes the overall bar (the end of a batch).
    pub fn clear(&self) {
        if let Ok(mut o) = self.overall.lock() {
            if let Some(pb) = o.take() {
                pb.finish_and_clear();
            }
        }
    }

    /// A line for the user that does not tear the bars.
    pub fn println(&self, line: &str) {
        if self.show {
            let _ = self
                .multi
                .println(crate::stdio::terminal_safe(format_args!("{line}")));
        } else {
            errln!("{line}");
        }
    }
}

impl Progress for Bars {
    fn batch(&self, files: usize, bytes: u64) {
        if !self.show {
            return;
        }
        let pb = self.bar(
            Some(bytes),
            TOTAL_STYLE,
            format!("total ({})", crate::output::files(files)),
        );
        if let Ok(mut o) = self.overall.lock() {
            *o = Some(pb);
        }
    }

    fn start(&self, name: &str, total: Option<u64>, done: u64) {
        if !self.show {
            return;
        }
        let pb = self.bar(total, FILE_STYLE, name.to_owned());
        pb.set_position(done);
        // Resumed bytes are not "moved now": keep the rate honest.
        pb.reset_eta();
        if let Ok(mut f) = self.file.lock() {
            *f = Some(pb);
        }
        // Resumed bytes do not move now: out of the batch's total, so its rate and ETA
        // describe what is left.
        self.skip(done);
    }

    fn skip(&self, bytes: u64) {
        if let Ok(o) = self.overall.lock() {
            if let Some(o) = o.as_ref() {
                let len = o.length().unwrap_or(0);
                o.set_length(len.saturating_sub(bytes));
            }
        }
    }

    fn advance(&self, bytes: u64) {
        if !self.show {
            return;
        }
        if let Ok(f) = self.file.lock() {
            if let Some(f) = f.as_ref() {
                f.inc(bytes);
            }
        }
        if let Ok(o) = self.overall.lock() {
            if let Some(o) = o.as_ref() {
                o.inc(bytes);
            }
        }
    }

    fn finish(&self) {
        if let Ok(mut f) = self.file.lock() {
            if let Some(pb) = f.take() {
                pb.finish_and_clear();
            }
        }
    }

    fn failed(&self, name: &str, error: &ferry_client::Error) {
        self.println(&format!("{name}: {error}"));
    }

    fn note(&self, message: &str) {
        if !self.quiet {
            self.println(message);
        }
    }
}
