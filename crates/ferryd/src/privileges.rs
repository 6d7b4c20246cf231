//! Who ferryd runs as. It never needs root: ports below 1024 need only CAP_NET_BIND_SERVICE.
//! Started as root, it warns, or, with `run_as = "user[:group]"`, switches to that user once
//! its ports are bound and its TLS key read (as vsftpd and Pure-FTPd do), and refuses to go on
//! serving files as root if the switch did not take.

use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::unistd::{Gid, Group, Uid, User};

/// Sets the process umask (octal bits), for everything ferryd creates from now on.
pub fn apply_umask(umask: u32) {
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(umask & 0o777));
}

/// The user and group `run_as` names.
fn resolve(run_as: &str) -> Result<(User, Gid)> {
    let (user, group) = match run_as.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (run_as, None),
    };
    let user = User::from_name(user)
        .with_context(|| format!("looking up run_as user {user:?}"))?
        .with_context(|| format!("run_as: no such user {user:?}"))?;
    let gid = match group {
        Some(g) => {
            Group::from_name(g)
                .with_context(|| format!("looking up run_as group {g:?}"))?
                .with_context(|| format!("run_as: no such group {g:?}"))?
                .gid
        }
        None => user.gid,
    };
    Ok((user, gid))
}

/// Gives a directory root just made (a new user's home) to `run_as`, when set and when this
/// process is root; otherwise leaves it alone.
pub fn hand_over(path: &Path, run_as: Option<&str>) -> Result<()> {
    let Some(run_as) = run_as.filter(|s| !s.trim().is_empty()) else {
        return Ok(());
    };
    if !Uid::effective().is_root() {
        return Ok(());
    }
    let (user, gid) = resolve(run_as.trim())?;
    std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(gid.as_raw()))
        .with_context(|| format!("handing {} to {run_as}", path.display()))
}

/// Drops root for `run_as` (or warns when running as root without it). `data_dir`'s own files
/// (the database, its journal, the homes directory) are handed to the new user first, so the
/// server can still open them; the homes' contents are the operator's to `chown -R`.
pub fn drop_root(run_as: Option<&str>, data_dir: &Path) -> Result<()> {
    let root = Uid::effective().is_root();
    let Some(run_as) = run_as.filter(|s| !s.trim().is_empty()) else {
        if root {
            tracing::warn!(
                "running as root: set run_as = \"ftp\" (or run ferryd as a user of its own, with \
                 CAP_NET_BIND_SERVICE for ports below 1024)"
            );
        }
        return Ok(());
    };
    let (user, gid) = resolve(run_as.trim())?;
    if user.uid.is_root() {
        bail!("run_as = {run_as:?} is root: name an unprivileged user");
    }
    if !root {
        if Uid::effective() == user.uid {
            return Ok(());
        }
        bail!(
            "run_as = {run_as:?} needs ferryd started as root (it runs as uid {}); \
             remove run_as or start it as root",
            Uid::effective()
        );
    }
    let give = |path: &Path| -> Result<()> {
        std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(gid.as_raw()))
            .with_context(|| format!("handing {} to {run_as}", path.display()))
    };
    for name in ["", "ferry.db", "ferry.db-wal", "ferry.db-shm", "homes"] {
        let path = data_dir.join(name);
        if path.exists() {
            give(&path)?;
        }
    }
    // Each home directory itself (made empty by `ferryd user add`), not what is inside.
    if let Ok(homes) = std::fs::read_dir(data_dir.join("homes")) {
        for home in homes.flatten() {
            if home.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                give(&home.path())?;
            }
        }
    }
    nix::unistd::setgroups(&[gid]).context("run_as: setgroups")?;
    nix::unistd::setgid(gid).context("run_as: setgid")?;
    nix::unistd::setuid(user.uid).context("run_as: setuid")?;
    if Uid::current().is_root()
        || Uid::effective().is_root()
        || nix::unistd::setuid(Uid::from_raw(0)).is_ok()
    {
        bail!("run_as: still root after switching to {run_as}; refusing to serve files as root");
    }
    tracing::info!(user = %user.name, uid = user.uid.as_raw(), gid = gid.as_raw(), "dropped root");
    Ok(())
}
