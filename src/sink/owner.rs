//! Who owns a spool directory: the one running `mesure serve` that holds its lock. Two
//! collectors on one spool would write the same segments, so a second one refuses to start;
//! and `mesure reload` signals only the process that holds the lock, never whatever process
//! id a stale pid file names (that may be an unrelated process by now).
//!
//! The lock is an advisory exclusive lock (`flock`) on `mesure.lock`, held by an open file for
//! the collector's whole life: the kernel releases it when the process ends, however it ends.
//! The pid file (`mesure.pid`) says which process holds it; both are `0600` and never written
//! through a symbolic link ([`super::files`]).

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::files;

/// The lock file in the spool directory.
pub const LOCK_FILE: &str = "mesure.lock";
/// The file `mesure reload` reads the owner's process id from.
pub const PID_FILE: &str = "mesure.pid";

/// The running collector's hold on its spool directory; dropping it removes the pid file and
/// releases the lock.
pub struct SpoolOwner {
    _lock: File,
    pid_file: PathBuf,
}

fn open_lock(dir: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join(LOCK_FILE))
}

impl SpoolOwner {
    /// Takes the spool directory `dir` (created private if missing) for this process, or says
    /// that another collector runs on it.
    pub fn claim(dir: &Path) -> anyhow::Result<SpoolOwner> {
        files::private_dir(dir)?;
        let lock = open_lock(dir, true)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => anyhow::bail!(
                "another mesure serve runs on the spool {} (it holds {LOCK_FILE}); two collectors on one spool would write the same files",
                dir.display()
            ),
            Err(TryLockError::Error(error)) => return Err(error.into()),
        }
        let pid_file = dir.join(PID_FILE);
        files::write_private(&pid_file, format!("{}\n", std::process::id()))?;
        // A pid file left by an older version may be readable by others: made private.
        std::fs::set_permissions(&pid_file, std::fs::Permissions::from_mode(0o600))?;
        Ok(SpoolOwner { _lock: lock, pid_file })
    }
}

impl Drop for SpoolOwner {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// The process id of the collector running on the spool `dir`: the pid file's, once the lock
/// shows that a collector holds the spool and that this process is the one holding it.
pub fn running_owner(dir: &Path) -> anyhow::Result<u32> {
    let lock = open_lock(dir, false).map_err(|error| {
        anyhow::anyhow!("no collector has run on the spool {} ({LOCK_FILE}: {error})", dir.display())
    })?;
    match lock.try_lock() {
        // Nobody holds it: whatever the pid file says is stale.
        Ok(()) => anyhow::bail!("no mesure serve is running on the spool {}", dir.display()),
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(error)) => return Err(error.into()),
    }
    let pid_file = dir.join(PID_FILE);
    let text = std::fs::read_to_string(&pid_file)
        .map_err(|error| anyhow::anyhow!("reading {}: {error}", pid_file.display()))?;
    let pid: u32 = text
        .trim()
        .parse()
        .ok()
        .filter(|pid| *pid > 1)
        .ok_or_else(|| anyhow::anyhow!("{} holds no process id", pid_file.display()))?;
    anyhow::ensure!(
        holds(pid, &dir.join(LOCK_FILE)),
        "process {pid} (from {}) does not hold the spool's lock: not signalled",
        pid_file.display()
    );
    Ok(pid)
}

/// Whether process `pid` has `lock` open (Linux: one of its `/proc/PID/fd` links to it).
fn holds(pid: u32, lock: &Path) -> bool {
    let Ok(lock) = lock.canonicalize() else { return false };
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    fds.filter_map(Result::ok).any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == lock))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn one_owner_per_spool_and_reload_finds_only_it() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        assert!(running_owner(&spool).unwrap_err().to_string().contains("no collector has run"));
        let owner = SpoolOwner::claim(&spool).unwrap();
        assert_eq!(running_owner(&spool).unwrap(), std::process::id());
        let mode = std::fs::metadata(spool.join(PID_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A second collector on the same spool: refused (flock is per open file, so this holds
        // within one process too).
        assert!(SpoolOwner::claim(&spool).err().unwrap().to_string().contains("another mesure serve"));
        // A pid file naming another process (a stale or forged one): not signalled.
        std::fs::write(spool.join(PID_FILE), "1234567\n").unwrap();
        assert!(running_owner(&spool).unwrap_err().to_string().contains("does not hold"));
        drop(owner);
        // Stopped: the lock is free, and a pid file left behind is stale.
        std::fs::write(spool.join(PID_FILE), format!("{}\n", std::process::id())).unwrap();
        assert!(running_owner(&spool).unwrap_err().to_string().contains("no mesure serve is running"));
    }

    #[test]
    fn the_pid_file_is_never_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        files::private_dir(&spool).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        symlink(&victim, spool.join(PID_FILE)).unwrap();
        assert!(SpoolOwner::claim(&spool).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    }
}
