//! Where Homebrew lives and whom it runs as.
//!
//! Homebrew refuses to run as root, and the agent runs as root, so every brew command runs as
//! the owner of the Homebrew repository directory: `/opt/homebrew` on Apple silicon,
//! `/usr/local/Homebrew` on Intel Macs (where `/usr/local` itself belongs to root). The owner's
//! home comes from `/etc/passwd` or, for the Directory Services users of macOS that
//! `/etc/passwd` does not list, from `dscl`. The parsers here are plain functions; the calls
//! into the system are in [`resolve_owner`].

use std::path::{Path, PathBuf};

/// A Homebrew installation: the `brew` program and the directory whose owner runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub brew: PathBuf,
    /// The Homebrew repository directory; its owner runs brew.
    pub repository: PathBuf,
    /// Directory of the installed programs, put first on `PATH`.
    pub bin: PathBuf,
}

/// The two standard installations, Apple silicon first: `(brew, repository, bin)`.
pub const STANDARD_INSTALLATIONS: &[(&str, &str, &str)] = &[
    (
        "/opt/homebrew/bin/brew",
        "/opt/homebrew",
        "/opt/homebrew/bin",
    ),
    (
        "/usr/local/bin/brew",
        "/usr/local/Homebrew",
        "/usr/local/bin",
    ),
];

/// Finds the Homebrew installation: the first standard one whose `brew` and repository exist.
pub fn locate(exists: impl Fn(&Path) -> bool) -> Option<Installation> {
    STANDARD_INSTALLATIONS
        .iter()
        .find(|(brew, repository, _)| exists(Path::new(brew)) && exists(Path::new(repository)))
        .map(|(brew, repository, bin)| Installation {
            brew: PathBuf::from(brew),
            repository: PathBuf::from(repository),
            bin: PathBuf::from(bin),
        })
}

/// The user brew runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    /// Group of the repository directory, usually `admin` on macOS.
    pub gid: u32,
    pub name: String,
    pub home: PathBuf,
}

/// Why brew cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnerError {
    #[error("Homebrew was not found at /opt/homebrew or /usr/local/Homebrew")]
    NotInstalled,
    #[error("Homebrew prefix is owned by root; Homebrew must not run as root")]
    OwnedByRoot,
    #[error("cannot read the owner of {path}: {reason}")]
    Metadata { path: String, reason: String },
    #[error("no user with uid {uid} owns the Homebrew prefix (not in /etc/passwd or dscl)")]
    UnknownUser { uid: u32 },
}

/// Refuses an owner that is root.
pub fn check_owner_uid(uid: u32) -> Result<(), OwnerError> {
    if uid == 0 {
        Err(OwnerError::OwnedByRoot)
    } else {
        Ok(())
    }
}

/// A user's name and home directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub home: PathBuf,
}

/// Finds the user with `uid` in the text of `/etc/passwd`
/// (`name:password:uid:gid:gecos:home:shell`; the BSD master format with extra fields as well).
pub fn parse_passwd(text: &str, uid: u32) -> Option<Account> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() < 7 || fields[2].parse::<u32>().ok()? != uid {
                return None;
            }
            // The home directory is the second-last field in both formats.
            let home = fields[fields.len() - 2];
            (!fields[0].is_empty() && home.starts_with('/')).then(|| Account {
                name: fields[0].to_owned(),
                home: PathBuf::from(home),
            })
        })
}

/// Returns the record name in the output of `dscl . -search /Users UniqueID UID`, which is
/// `name<TAB><TAB>UniqueID = (` followed by the value lines.
pub fn parse_dscl_search(output: &str) -> Option<String> {
    output.lines().find_map(|line| {
        let (name, rest) = line.split_once('\t')?;
        let name = name.trim();
        (rest.trim_start().starts_with("UniqueID") && !name.is_empty() && !name.contains(' '))
            .then(|| name.to_owned())
    })
}

/// Returns the home in the output of `dscl . -read /Users/NAME NFSHomeDirectory`: either
/// `NFSHomeDirectory: /Users/name` or, for a value with spaces, the value on the next line.
pub fn parse_dscl_home(output: &str) -> Option<PathBuf> {
    let mut lines = output.lines();
    while let Some(line) = lines.next() {
        let Some(value) = line.strip_prefix("NFSHomeDirectory:") else {
            continue;
        };
        let value = if value.trim().is_empty() {
            lines.next()?.trim()
        } else {
            value.trim()
        };
        return value.starts_with('/').then(|| PathBuf::from(value));
    }
    None
}

/// Environment of every brew run: the owner's identity, a plain `PATH` with Homebrew first,
/// and the switches that keep brew from updating itself, cleaning up, sending analytics or
/// asking questions.
pub fn brew_environment(owner: &Owner, installation: &Installation) -> Vec<(&'static str, String)> {
    vec![
        ("HOME", owner.home.to_string_lossy().into_owned()),
        ("USER", owner.name.clone()),
        ("LOGNAME", owner.name.clone()),
        (
            "PATH",
            format!(
                "{}:/usr/bin:/bin:/usr/sbin:/sbin",
                installation.bin.to_string_lossy()
            ),
        ),
        ("HOMEBREW_NO_AUTO_UPDATE", "1".to_owned()),
        ("HOMEBREW_NO_INSTALL_CLEANUP", "1".to_owned()),
        ("HOMEBREW_NO_ANALYTICS", "1".to_owned()),
        ("HOMEBREW_NO_ENV_HINTS", "1".to_owned()),
        ("HOMEBREW_NO_COLOR", "1".to_owned()),
        ("NONINTERACTIVE", "1".to_owned()),
    ]
}

/// Reads the owner of the installation's repository and finds that user's name and home.
#[cfg(unix)]
pub fn resolve_owner(installation: &Installation) -> Result<Owner, OwnerError> {
    use std::os::unix::fs::MetadataExt;

    let metadata =
        std::fs::metadata(&installation.repository).map_err(|error| OwnerError::Metadata {
            path: installation.repository.display().to_string(),
            reason: error.to_string(),
        })?;
    let (uid, gid) = (metadata.uid(), metadata.gid());
    check_owner_uid(uid)?;
    let account = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| parse_passwd(&text, uid))
        .or_else(|| directory_services_account(uid))
        .ok_or(OwnerError::UnknownUser { uid })?;
    Ok(Owner {
        uid,
        gid,
        name: account.name,
        home: account.home,
    })
}

/// Looks the user up in macOS Directory Services with `dscl`.
#[cfg(target_os = "macos")]
fn directory_services_account(uid: u32) -> Option<Account> {
    use std::process::Command;
    use std::time::Duration;

    let dscl = |arguments: &[&str]| {
        let mut command = Command::new("/usr/bin/dscl");
        command.args(arguments);
        crate::packages::command::run(command, Duration::from_secs(30))
            .ok()
            .filter(|output| output.status.success())
            .map(|output| output.stdout)
    };
    let uid_text = uid.to_string();
    let name = parse_dscl_search(&dscl(&[".", "-search", "/Users", "UniqueID", &uid_text])?)?;
    let record = format!("/Users/{name}");
    let home = parse_dscl_home(&dscl(&[".", "-read", &record, "NFSHomeDirectory"])?)?;
    Some(Account { name, home })
}

#[cfg(not(target_os = "macos"))]
fn directory_services_account(_uid: u32) -> Option<Account> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/brew/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn locates_apple_silicon_before_intel() {
        let both = locate(|_| true).unwrap();
        assert_eq!(both.brew, Path::new("/opt/homebrew/bin/brew"));
        assert_eq!(both.repository, Path::new("/opt/homebrew"));
        let intel = locate(|path| path.starts_with("/usr/local")).unwrap();
        assert_eq!(intel.brew, Path::new("/usr/local/bin/brew"));
        assert_eq!(intel.repository, Path::new("/usr/local/Homebrew"));
        // A brew program without its repository is not an installation.
        assert_eq!(
            locate(|path| path == Path::new("/usr/local/bin/brew")),
            None
        );
        assert_eq!(locate(|_| false), None);
    }

    #[test]
    fn root_owner_is_refused() {
        let error = check_owner_uid(0).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Homebrew prefix is owned by root; Homebrew must not run as root"
        );
        assert_eq!(check_owner_uid(501), Ok(()));
    }

    #[test]
    fn passwd_lookup() {
        let text = fixture("passwd.txt");
        assert_eq!(
            parse_passwd(&text, 1001),
            Some(Account {
                name: "linuxbrew".into(),
                home: PathBuf::from("/home/linuxbrew"),
            })
        );
        assert_eq!(parse_passwd(&text, 0).unwrap().home, Path::new("/var/root"));
        // The ten fields of BSD master.passwd: the home is still the second-last one.
        let master = "alice:*:501:20::0:0:Alice:/Users/alice:/bin/zsh\n";
        assert_eq!(
            parse_passwd(master, 501).unwrap().home,
            Path::new("/Users/alice")
        );
        assert_eq!(parse_passwd(&text, 501), None);
        assert_eq!(parse_passwd("broken:line\n", 1), None);
    }

    #[test]
    fn dscl_lookup() {
        assert_eq!(
            parse_dscl_search(&fixture("dscl-search.txt")).as_deref(),
            Some("alice")
        );
        assert_eq!(parse_dscl_search(""), None);
        assert_eq!(
            parse_dscl_home(&fixture("dscl-read-home.txt")),
            Some(PathBuf::from("/Users/alice"))
        );
        assert_eq!(
            parse_dscl_home(&fixture("dscl-read-home-spaces.txt")),
            Some(PathBuf::from("/Users/Alice Smith"))
        );
        assert_eq!(
            parse_dscl_home("<dscl_cmd> DS Error: -14136 (eDSRecordNotFound)\n"),
            None
        );
    }

    #[test]
    fn environment() {
        let owner = Owner {
            uid: 501,
            gid: 80,
            name: "alice".into(),
            home: PathBuf::from("/Users/alice"),
        };
        let installation = locate(|_| true).unwrap();
        let environment = brew_environment(&owner, &installation);
        let get = |key: &str| {
            environment
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(get("HOME"), Some("/Users/alice"));
        assert_eq!(get("USER"), Some("alice"));
        assert!(get("PATH").unwrap().starts_with("/opt/homebrew/bin:"));
        for switch in [
            "HOMEBREW_NO_AUTO_UPDATE",
            "HOMEBREW_NO_INSTALL_CLEANUP",
            "HOMEBREW_NO_ANALYTICS",
            "NONINTERACTIVE",
        ] {
            assert_eq!(get(switch), Some("1"), "{switch}");
        }
    }
}
