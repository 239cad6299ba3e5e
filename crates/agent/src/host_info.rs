//! Facts that identify this host to an administrator, gathered once when the agent starts.
//!
//! Hostname and kernel come from `sysinfo`; OS name and version from `/etc/os-release`, the
//! FQDN from `/etc/hosts`, and the machine id from `/etc/machine-id`. No command is run.

use std::path::Path;

use sysmanage_protocol::HostInfo;

/// Collects the host facts from the running system.
pub fn collect() -> HostInfo {
    let hostname = sysinfo::System::host_name().unwrap_or_default();
    let fqdn = std::fs::read_to_string("/etc/hosts")
        .ok()
        .and_then(|hosts| fqdn_from_hosts(&hosts, &hostname))
        .unwrap_or_else(|| hostname.clone());
    let os = read_os_release();
    HostInfo {
        hostname,
        fqdn,
        os_name: os.name,
        os_version: os.version,
        kernel: sysinfo::System::kernel_version().unwrap_or_default(),
        architecture: architecture_name(std::env::consts::ARCH).to_owned(),
        machine_id: read_machine_id(Path::new("/etc/machine-id")),
    }
}

/// Operating system name, version and codename, as read from an os-release file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsRelease {
    pub name: String,
    pub version: String,
    pub codename: Option<String>,
}

/// Reads `/etc/os-release`, then `/usr/lib/os-release`. Without either, as on Windows, macOS and
/// the BSDs without one, the name comes from `sysinfo` and the version is empty.
pub fn read_os_release() -> OsRelease {
    ["/etc/os-release", "/usr/lib/os-release"]
        .into_iter()
        .find_map(|path| std::fs::read_to_string(Path::new(path)).ok())
        .map_or_else(
            || OsRelease {
                name: sysinfo::System::name().unwrap_or_default(),
                version: String::new(),
                codename: None,
            },
            |text| parse_os_release(&text),
        )
}

/// Returns `NAME` and `VERSION_ID` of an os-release file, falling back to `ID` and `VERSION`,
/// and the codename from `VERSION_CODENAME`, falling back to `UBUNTU_CODENAME`. An empty
/// codename counts as none.
///
/// Values may be quoted with `"` or `'`; a backslash escapes the next character.
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut name = None;
    let mut id = None;
    let mut version_id = None;
    let mut version = None;
    let mut version_codename = None;
    let mut ubuntu_codename = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = unquote(value.trim());
        match key.trim() {
            "NAME" => name = Some(value),
            "ID" => id = Some(value),
            "VERSION_ID" => version_id = Some(value),
            "VERSION" => version = Some(value),
            "VERSION_CODENAME" => version_codename = Some(value),
            "UBUNTU_CODENAME" => ubuntu_codename = Some(value),
            _ => {}
        }
    }
    OsRelease {
        name: name.or(id).unwrap_or_else(|| "Linux".to_owned()),
        version: version_id.or(version).unwrap_or_default(),
        codename: version_codename
            .filter(|codename| !codename.is_empty())
            .or(ubuntu_codename)
            .filter(|codename| !codename.is_empty()),
    }
}

fn unquote(value: &str) -> String {
    let inner = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .or_else(|| {
            value
                .strip_prefix('\'')
                .and_then(|rest| rest.strip_suffix('\''))
        })
        .unwrap_or(value);
    let mut result = String::with_capacity(inner.len());
    let mut characters = inner.chars();
    while let Some(character) = characters.next() {
        if character == '\\' {
            if let Some(escaped) = characters.next() {
                result.push(escaped);
            }
        } else {
            result.push(character);
        }
    }
    result
}

/// Returns the fully qualified name of `hostname` from an `/etc/hosts` file: the first name with
/// a dot on a line that lists the hostname. A hostname with a dot is already qualified.
// NOTE: DNS is not consulted, so a host whose FQDN is only in DNS reports its short name.
pub fn fqdn_from_hosts(hosts: &str, hostname: &str) -> Option<String> {
    if hostname.contains('.') {
        return Some(hostname.to_owned());
    }
    hosts
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .find_map(|line| {
            let names: Vec<&str> = line.split_whitespace().skip(1).collect();
            let lists_hostname = names
                .iter()
                .any(|name| *name == hostname || name.split('.').next() == Some(hostname));
            if !lists_hostname {
                return None;
            }
            names
                .iter()
                .find(|name| name.contains('.') && name.split('.').next() == Some(hostname))
                .map(|name| (*name).to_owned())
        })
}

fn read_machine_id(path: &Path) -> Option<String> {
    let id = std::fs::read_to_string(path).ok()?.trim().to_owned();
    (!id.is_empty()).then_some(id)
}

/// Maps a Rust target architecture to the name `uname -m` prints.
pub fn architecture_name(rust_arch: &str) -> &str {
    match rust_arch {
        "x86" => "i686",
        "arm" => "armv7l",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_debian() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
                    VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nID=debian\n\
                    VERSION_CODENAME=bookworm\n";
        let os = parse_os_release(text);
        assert_eq!(os.name, "Debian GNU/Linux");
        assert_eq!(os.version, "12");
        assert_eq!(os.codename.as_deref(), Some("bookworm"));
    }

    #[test]
    fn os_release_fallbacks_and_quotes() {
        let text = "# comment\nID=arch\nVERSION='rolling \\'edge\\''\n";
        let os = parse_os_release(text);
        assert_eq!(os.name, "arch");
        assert_eq!(os.version, "rolling 'edge'");
        assert_eq!(os.codename, None);

        let empty = parse_os_release("");
        assert_eq!(empty.name, "Linux");
        assert_eq!(empty.version, "");
        assert_eq!(empty.codename, None);
    }

    #[test]
    fn os_release_codename_sources() {
        let cases = [
            ("VERSION_CODENAME=\"noble\"\n", Some("noble")),
            ("UBUNTU_CODENAME=jammy\n", Some("jammy")),
            (
                "VERSION_CODENAME=wilma\nUBUNTU_CODENAME=noble\n",
                Some("wilma"),
            ),
            ("VERSION_CODENAME=\nUBUNTU_CODENAME=noble\n", Some("noble")),
            ("VERSION_CODENAME=\"\"\n", None),
            ("# VERSION_CODENAME=trixie\n", None),
        ];
        for (text, expected) in cases {
            assert_eq!(
                parse_os_release(text).codename.as_deref(),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn fqdn_lookup() {
        let hosts = "127.0.0.1 localhost\n10.0.0.5 web1.example.com web1 # main\n";
        assert_eq!(
            fqdn_from_hosts(hosts, "web1").as_deref(),
            Some("web1.example.com")
        );
        assert_eq!(fqdn_from_hosts(hosts, "db1"), None);
        assert_eq!(fqdn_from_hosts(hosts, "a.b").as_deref(), Some("a.b"));
    }

    #[test]
    fn architecture_names() {
        assert_eq!(architecture_name("x86_64"), "x86_64");
        assert_eq!(architecture_name("aarch64"), "aarch64");
        assert_eq!(architecture_name("x86"), "i686");
    }

    #[test]
    fn collect_on_this_host() {
        let host = collect();
        assert!(!host.hostname.is_empty());
        assert!(!host.kernel.is_empty());
        assert!(!host.os_name.is_empty());
        assert_eq!(host.architecture, architecture_name(std::env::consts::ARCH));
    }
}
