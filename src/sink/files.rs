//! The spool's and the dead letters' files are private: directories `0700`, files `0600`, and
//! never opened through a symbolic link (`O_NOFOLLOW`), so another local user can neither read
//! the events nor redirect our writes. Dead letters are deleted once older than the longest
//! retention of any site, which the retention job asks for ([`expire_dead_letters`]).

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The dead letters' directory, under the spool's.
pub(crate) const DEAD_LETTER_DIR: &str = "dead-letter";

/// Creates `dir` (and its parents) and makes it `0700`; refuses a symbolic link.
pub(crate) fn private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let metadata = fs::symlink_metadata(dir)?;
    if metadata.file_type().is_symlink() {
        return Err(io::Error::other(format!(
            "{} is a symbolic link; the spool needs a real directory",
            dir.display()
        )));
    }
    if metadata.permissions().mode() & 0o777 != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Opens `path` to append, creating it `0600`; fails on a symbolic link.
pub(crate) fn append_private(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// Writes `bytes` to `path` (created `0600`, truncated; fails on a symbolic link).
pub(crate) fn write_private(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.write_all(bytes.as_ref())
}

/// Deletes the dead-letter files in `dir` last written more than `older_than` ago; returns how
/// many. A missing directory has none.
pub(crate) fn expire_dead_letters(dir: &Path, older_than: Duration) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.filter_map(Result::ok) {
        let metadata = entry.metadata()?;
        let written = metadata.modified()?;
        if metadata.is_file() && now.duration_since(written).unwrap_or_default() > older_than {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_private_and_links_are_refused() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("spool");
        private_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        let file = dir.join("x.seg");
        append_private(&file).unwrap().write_all(b"rows").unwrap();
        assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        write_private(&dir.join("cursor"), "1 0\n").unwrap();
        assert_eq!(fs::metadata(dir.join("cursor")).unwrap().permissions().mode() & 0o777, 0o600);
        // A link planted where we write: refused, and its target untouched.
        let target = base.path().join("elsewhere");
        fs::write(&target, "theirs").unwrap();
        std::os::unix::fs::symlink(&target, dir.join("cursor.tmp")).unwrap();
        assert!(write_private(&dir.join("cursor.tmp"), "1 0\n").is_err());
        std::os::unix::fs::symlink(&target, dir.join("2.seg")).unwrap();
        assert!(append_private(&dir.join("2.seg")).is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "theirs");
        // A directory given as a link is refused too.
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(private_dir(&link).is_err());
        // A world-readable directory made earlier is tightened.
        let old = base.path().join("old");
        fs::create_dir(&old).unwrap();
        fs::set_permissions(&old, fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&old).unwrap();
        assert_eq!(fs::metadata(&old).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn old_dead_letters_expire() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.jsonl");
        let new = dir.path().join("new.jsonl");
        write_private(&old, "{}\n").unwrap();
        write_private(&new, "{}\n").unwrap();
        let long_ago = SystemTime::now() - Duration::from_secs(200 * 86_400);
        File::options().write(true).open(&old).unwrap().set_modified(long_ago).unwrap();
        assert_eq!(expire_dead_letters(dir.path(), Duration::from_secs(180 * 86_400)).unwrap(), 1);
        assert!(!old.exists() && new.exists());
        assert_eq!(expire_dead_letters(&dir.path().join("none"), Duration::ZERO).unwrap(), 0);
    }
}
