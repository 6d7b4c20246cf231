//! Every line the program prints goes through here, never through `println!`/`eprintln!`:
//! those panic when the reader has gone away ("failed printing to stdout: Broken pipe").
//! Rust ignores SIGPIPE, so `ferry ls URL | head -1` sees EPIPE as an error on its next
//! write; like `ls` (killed quietly by the signal) and ripgrep (which exits 0), ferry then
//! stops at once, quietly, with status 0: the reader has what it wanted.
//!
//! stderr failing is not worth stopping for (there is nowhere left to say anything); the
//! line is dropped.

use std::fmt;
use std::io::{self, Write};

/// The line as it may reach a terminal: what we print often quotes the server (names, reply
/// texts), and a hostile server's escape sequences must not rewrite the user's screen.
pub fn terminal_safe(args: fmt::Arguments<'_>) -> String {
    let line = args.to_string();
    match ferry_client::names::printable_text(&line) {
        std::borrow::Cow::Borrowed(_) => line,
        std::borrow::Cow::Owned(safe) => safe,
    }
}

/// Writes one line to stdout (see the module comment for a closed pipe).
pub fn out_line(args: fmt::Arguments<'_>) {
    let line = terminal_safe(args);
    let mut out = io::stdout().lock();
    let r = out
        .write_all(line.as_bytes())
        .and_then(|()| out.write_all(b"\n"));
    if let Err(e) = r {
        stdout_failed(&e);
    }
}

/// A handle on stdout for a download written straight to it (`get URL -`, `cat`): the same
/// descriptor, duplicated, so the copy thread can write it as a file.
pub fn stdout_file() -> io::Result<std::fs::File> {
    use std::os::fd::AsFd;
    io::stdout().flush()?;
    let fd = io::stdout().as_fd().try_clone_to_owned()?;
    Ok(std::fs::File::from(fd))
}

/// Whether a failed download to stdout failed only because its reader left (`| head`).
pub fn reader_left(e: &ferry_client::Error) -> bool {
    matches!(e, ferry_client::Error::Local { source, .. } if is_closed_pipe(source))
}

/// Writes one line to stderr; a failure is ignored (see the module comment).
pub fn err_line(args: fmt::Arguments<'_>) {
    let line = terminal_safe(args);
    let mut err = io::stderr().lock();
    let _ = err
        .write_all(line.as_bytes())
        .and_then(|()| err.write_all(b"\n"));
}

/// The end of the program when stdout cannot be written: quietly for a reader that left,
/// with a message (on stderr, which may still work) for anything else, such as a full disk.
pub fn stdout_failed(e: &io::Error) -> ! {
    if is_closed_pipe(e) {
        std::process::exit(crate::exit::OK);
    }
    err_line(format_args!("ferry: cannot write to stdout: {e}"));
    std::process::exit(crate::exit::OTHER);
}

/// Whether an error means the reader of our output went away.
pub fn is_closed_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// `println!` that ends the program quietly when stdout's reader is gone.
macro_rules! outln {
    () => { $crate::stdio::out_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::stdio::out_line(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    () => { $crate::stdio::err_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::stdio::err_line(format_args!($($arg)*)) };
}
