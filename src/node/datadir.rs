//! The data directory's own concerns: creating it private, locking it for one node, and
//! keeping the files in it private.
//!
//! Two nodes on one datadir would both follow the chain, both send transactions with
//! the same key and both write one database: their views part and the database holds
//! whichever wrote last. So a node holds an OS lock on [`LOCK_FILE_NAME`] for its whole
//! life (as geth, Bitcoin Core and Raiden do), and a second node is refused with the pid
//! of the first. The lock is the kernel's (`flock`), not the file's existence: it dies
//! with its process, so a node killed with SIGKILL leaves nothing that blocks a restart.
//!
//! The database holds our account, our channels and our journal: the directory is
//! created `0700` and the files `0600`, whatever the umask. A directory that exists
//! with looser modes is only warned about, not changed: it may be one the user shares
//! with other programs (`--datadir .`), and changing its mode could break them; the
//! files in it that are ours are made `0600`, since nothing but this node reads them.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file inside `--datadir`; it holds the pid of the node that holds the lock.
pub const LOCK_FILE_NAME: &str = "tokennet.lock";

/// Mode of a data directory we create: only its owner enters it.
pub const DIR_MODE: u32 = 0o700;

/// Mode of the files we keep in the data directory: only their owner reads them.
pub const FILE_MODE: u32 = 0o600;

/// Why the data directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DatadirError {
    /// The directory cannot be created.
    #[error("cannot create the data directory {path}: {source}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file in it cannot be created, opened, locked or given its mode.
    #[error("data directory {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another process holds the lock.
    #[error("the data directory {path} is in use by another tokennet node ({holder}); stop it, or start with another --datadir")]
    InUse {
        /// The directory.
        path: PathBuf,
        /// "pid N", from the lock file.
        holder: String,
    },
}

/// A data directory this process holds: the lock lasts as long as this value.
#[derive(Debug)]
pub struct Datadir {
    path: PathBuf,
    /// The locked file; dropping it (or the process ending) releases the lock.
    _lock: File,
}

impl Datadir {
    /// Creates `path` (mode `0700`) if needed, warns if it exists and group or others
    /// can enter it, and takes its lock; refused with the holder's pid if another
    /// process has it.
    pub fn acquire(path: &Path) -> Result<Self, DatadirError> {
        create_private_dir(path)?;
        let lock_path = path.join(LOCK_FILE_NAME);
        let file_error = |source| DatadirError::File {
            path: lock_path.clone(),
            source,
        };
        // Not truncated on open: the holder's pid must stay readable to the refused node.
        let mut lock = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(file_error)?;
        make_private(&lock_path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                // The holder may be between taking the lock and writing its pid.
                let _ = lock.read_to_string(&mut text);
                let holder = match text.trim() {
                    "" => "pid unknown".to_string(),
                    pid => format!("pid {pid}"),
                };
                return Err(DatadirError::InUse {
                    path: path.to_path_buf(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(file_error(source)),
        }
        lock.set_len(0)
            .and_then(|()| lock.rewind())
            .and_then(|()| writeln!(lock, "{}", std::process::id()))
            .and_then(|()| lock.sync_data())
            .map_err(file_error)?;
        Ok(Self {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Prepares the file `name` in the directory as ours alone: creates it empty with
    /// mode `0600` if absent, and sets an existing one to `0600` (it may come from a
    /// version that left it to the umask). Returns its path.
    pub fn private_file(&self, name: &str) -> Result<PathBuf, DatadirError> {
        let path = self.path.join(name);
        private_options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| DatadirError::File {
                path: path.clone(),
                source,
            })?;
        make_private(&path)?;
        Ok(path)
    }

    /// Sets the file `name` to `0600` if it exists (files another program, such as
    /// SQLite, creates beside ours).
    pub fn tighten_if_present(&self, name: &str) -> Result<(), DatadirError> {
        let path = self.path.join(name);
        if path.exists() {
            make_private(&path)?;
        }
        Ok(())
    }
}

/// Opening options that create a file with mode `0600` (before the umask, which can
/// only take bits away).
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options
}

/// Sets `path` to `0600` unless it is already.
fn make_private(path: &Path) -> Result<(), DatadirError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let error = |source| DatadirError::File {
            path: path.to_path_buf(),
            source,
        };
        let mode = std::fs::metadata(path).map_err(error)?.permissions().mode() & 0o777;
        if mode != FILE_MODE {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))
                .map_err(error)?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates `path` with mode `0700` (its missing parents too); an existing directory
/// keeps its mode, with a warning if group or others can enter it.
fn create_private_dir(path: &Path) -> Result<(), DatadirError> {
    let error = |source| DatadirError::Create {
        path: path.to_path_buf(),
        source,
    };
    if path.is_dir() {
        if let Some(mode) = crate::secret_file::exposed_mode(path) {
            crate::secret_file::warn(&format!(
                "the data directory {path} has mode {mode:04o}: group or others can list it; `chmod 700 {path}` makes it private",
                path = path.display()
            ));
        }
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(DIR_MODE);
        builder.create(path).map_err(error)?;
        // The umask may have taken bits of 0700 away (the owner's own): set it exactly.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(DIR_MODE)).map_err(error)?;
    }
    #[cfg(not(unix))]
    builder.create(path).map_err(error)?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("the file exists")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn a_second_holder_is_refused_with_the_pid_until_the_first_lets_go() {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("a").join("datadir");
        let first = Datadir::acquire(&path).unwrap();
        assert_eq!(mode(&path), DIR_MODE);
        assert_eq!(mode(&path.join(LOCK_FILE_NAME)), FILE_MODE);
        let error = Datadir::acquire(&path).unwrap_err().to_string();
        assert!(
            error.contains(&path.display().to_string())
                && error.contains(&format!("pid {}", std::process::id()))
                && error.contains("--datadir"),
            "{error}"
        );
        drop(first);
        let again = Datadir::acquire(&path).unwrap();
        let file = again.private_file("state").unwrap();
        assert_eq!(mode(&file), FILE_MODE);
    }

    #[test]
    fn existing_files_are_made_private_and_an_open_directory_is_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let state = dir.path().join("state");
        std::fs::write(&state, "kept").unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o644)).unwrap();
        let datadir = Datadir::acquire(dir.path()).unwrap();
        assert_eq!(mode(dir.path()), 0o755);
        datadir.private_file("state").unwrap();
        assert_eq!(mode(&state), FILE_MODE);
        assert_eq!(std::fs::read_to_string(&state).unwrap(), "kept");
        datadir.tighten_if_present("absent").unwrap();
        assert!(!dir.path().join("absent").exists());
    }
}
