//! Files that hold secrets (a private key, a keystore, its password, the API token) and
//! the node's own private files: a warning, as ssh gives one, when group or others can
//! reach them.

use std::path::Path;

/// The permission bits of group and others: any of them set on a secret file is a warning.
const GROUP_AND_OTHERS: u32 = 0o077;

/// The file's permission bits when group or others have any access to it; `None` when
/// only its owner has, when its mode cannot be read (the read of its content reports
/// that), or off Unix.
pub fn exposed_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & GROUP_AND_OTHERS != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Warns when the secret file `path` (`what` says which: "key file", "password file"…)
/// can be read or written by group or others, naming the file, its mode and the
/// `chmod 600` that fixes it. The file is still used: the warning tells its owner
/// without breaking a setup that works today.
pub fn warn_if_exposed(path: &Path, what: &str) {
    if let Some(mode) = exposed_mode(path) {
        warn(&format!(
            "the {what} {path} has mode {mode:04o}: group or others can read it; `chmod 600 {path}` makes it private",
            path = path.display()
        ));
    }
}

/// Says `message` as a WARN log line (on stderr, where this binary logs), or straight on
/// stderr while logging is not set up yet: clap reads `--api-token-file` before it is.
pub fn warn(message: &str) {
    if tracing::dispatcher::has_been_set() {
        tracing::warn!("{message}");
    } else {
        eprintln!("warning: {message}");
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_files_others_can_reach_are_exposed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "x").unwrap();
        for (mode, exposed) in [
            (0o600, None),
            (0o400, None),
            (0o640, Some(0o640)),
            (0o644, Some(0o644)),
            (0o666, Some(0o666)),
            (0o602, Some(0o602)),
        ] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(exposed_mode(&file), exposed, "{mode:o}");
        }
        assert_eq!(exposed_mode(&dir.path().join("absent")), None);
    }
}
