//! Packages that a versionlock holds, read from the lock files of dnf 4, dnf5 and yum.
//!
//! The dnf 4 versionlock plugin (dnf-plugins-core) reads the file that `locklist` names in
//! `/etc/dnf/plugins/versionlock.conf`, which is `/etc/dnf/plugins/versionlock.list` by default.
//! The file has one package spec per line, such as `bash-0:5.1.8-6.el9.*` as `dnf versionlock
//! add` writes it, `#` comments, and `!SPEC` lines that exclude one version instead of holding
//! the package. yum's plugin writes the same format to `/etc/yum/pluginconf.d/versionlock.list`,
//! with the epoch in front (`0:bash-4.2.46-34.el7.*`). dnf5 reads `/etc/dnf/versionlock.toml`:
//! `[[packages]]` tables with a `name` glob and `[[packages.conditions]]`. A condition with `=` or
//! a range holds the package, while `!=` only excludes one version. The files are read below the
//! install root when one is set.
//!
//! The agent reads the files itself rather than running `dnf versionlock list`, because the dnf 4
//! plugin may not be installed while its file exists, and because the plugin hides the updates of
//! locked packages from `check-update`, which detection lists with the plugin disabled.

use std::path::Path;

use super::Flavor;
use crate::packages::ScanError;

/// Default list file of the dnf 4 plugin, relative to the root.
pub const DNF4_LIST: &str = "etc/dnf/plugins/versionlock.list";
/// Configuration of the dnf 4 plugin, which may name another list file in `locklist`.
pub const DNF4_CONFIG: &str = "etc/dnf/plugins/versionlock.conf";
/// List file of the yum plugin.
pub const YUM_LIST: &str = "etc/yum/pluginconf.d/versionlock.list";
/// Configuration of the yum plugin.
pub const YUM_CONFIG: &str = "etc/yum/pluginconf.d/versionlock.conf";
/// Lock file of dnf5.
pub const DNF5_TOML: &str = "etc/dnf/versionlock.toml";

/// Name globs (`*` and `?`) of the packages that a versionlock holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versionlock {
    pub patterns: Vec<String>,
}

impl Versionlock {
    /// Reads the lock file of `flavor` below `root`. A missing file holds nothing, and a file
    /// that exists but cannot be read is an error, so that its locks are never ignored.
    pub fn read(flavor: Flavor, root: Option<&Path>) -> Result<Self, ScanError> {
        let in_root = |path: &str| match root {
            Some(root) => root.join(path.trim_start_matches('/')),
            None => Path::new("/").join(path),
        };
        let patterns = match flavor {
            Flavor::Dnf5 => read_optional(&in_root(DNF5_TOML))?
                .map(|text| parse_dnf5_toml(&text))
                .unwrap_or_default(),
            Flavor::Dnf4 | Flavor::Yum => {
                let (config, default_list) = if flavor == Flavor::Yum {
                    (YUM_CONFIG, YUM_LIST)
                } else {
                    (DNF4_CONFIG, DNF4_LIST)
                };
                let list = read_optional(&in_root(config))?
                    .and_then(|text| locklist_setting(&text))
                    .unwrap_or_else(|| default_list.to_owned());
                read_optional(&in_root(&list))?
                    .map(|text| parse_plugin_list(&text))
                    .unwrap_or_default()
            }
        };
        Ok(Self { patterns })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Returns whether a lock holds the package `name`.
    pub fn holds(&self, name: &str) -> bool {
        self.patterns
            .iter()
            .any(|pattern| glob_matches(pattern, name))
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, ScanError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ScanError::ReadFile {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Reads `locklist = PATH` from the plugin configuration.
fn locklist_setting(config: &str) -> Option<String> {
    config.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "locklist")
            .then(|| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    })
}

/// Parses the plugin's list file into the name globs of the held packages.
pub fn parse_plugin_list(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('!'))
        .map(name_of_spec)
        .collect()
}

/// Returns the name part of a package spec: `bash-0:5.1.8-6.el9.*`, `0:bash-4.2.46-34.el7.*`,
/// `glibc-2.34-60.el9.x86_64` and a bare `kernel*` give `bash`, `bash`, `glibc` and `kernel*`.
fn name_of_spec(spec: &str) -> String {
    let spec = strip_epoch(spec);
    let without_arch = spec
        .strip_suffix(".*")
        .or_else(|| {
            crate::packages::version::rpm::split_architecture(spec).map(|(name, _arch)| name)
        })
        .unwrap_or(spec);
    let name = without_arch
        .rsplit_once('-')
        .and_then(|(rest, release)| {
            let (name, version) = rest.rsplit_once('-')?;
            let looks_like_version = strip_epoch(version).starts_with(|c: char| c.is_ascii_digit());
            (!name.is_empty() && !release.is_empty() && looks_like_version).then_some(name)
        })
        .unwrap_or(without_arch);
    name.to_owned()
}

/// Removes an `EPOCH:` prefix made of digits.
fn strip_epoch(text: &str) -> &str {
    match text.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            rest
        }
        _ => text,
    }
}

/// Parses dnf5's `versionlock.toml` into the name globs of the held packages.
///
/// NOTE: this reads the layout that `dnf5 versionlock add` writes (one `key = "value"` per line,
/// `[[packages]]` and `[[packages.conditions]]` headers), not every TOML spelling of it.
pub fn parse_dnf5_toml(text: &str) -> Vec<String> {
    #[derive(Default)]
    struct Entry {
        name: Option<String>,
        comparators: Vec<String>,
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut in_conditions = false;
    for line in text.lines().map(str::trim) {
        match line {
            "[[packages]]" => {
                entries.push(Entry::default());
                in_conditions = false;
            }
            "[[packages.conditions]]" => in_conditions = true,
            _ if line.starts_with('[') => in_conditions = false,
            _ => {
                let Some((key, value)) = line.split_once('=') else {
                    continue;
                };
                let Some(entry) = entries.last_mut() else {
                    continue;
                };
                let value = toml_string(value);
                match (key.trim(), in_conditions) {
                    ("name", false) => entry.name = value,
                    ("comparator", true) => entry.comparators.extend(value),
                    _ => {}
                }
            }
        }
    }
    entries
        .into_iter()
        .filter(|entry| {
            entry.comparators.is_empty()
                || entry
                    .comparators
                    .iter()
                    .any(|comparator| comparator != "!=")
        })
        .filter_map(|entry| entry.name)
        .collect()
}

/// Reads a quoted TOML string value, ignoring a comment after it.
fn toml_string(value: &str) -> Option<String> {
    let value = value.trim();
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &value[1..];
    let end = rest.find(quote)?;
    Some(rest[..end].to_owned())
}

/// Matches `name` against a glob with `*` (any run of characters) and `?` (one character).
fn glob_matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    // Positions to resume from after the last `*`: in the pattern and in the name.
    let mut resume: Option<(usize, usize)> = None;
    let (mut p, mut n) = (0, 0);
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                resume = Some((p + 1, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match resume {
                Some((after_star, matched)) => {
                    p = after_star;
                    n = matched + 1;
                    resume = Some((after_star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/dnf/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn plugin_list() {
        assert_eq!(
            parse_plugin_list(&fixture("versionlock.list")),
            [
                "bash",
                "openssl-libs",
                "kernel*",
                "python3-dnf-plugin-versionlock"
            ]
        );
    }

    #[test]
    fn yum_list_with_epoch_first() {
        assert_eq!(
            parse_plugin_list(&fixture("yum-versionlock.list")),
            ["bash", "glibc"]
        );
    }

    #[test]
    fn dnf5_toml() {
        assert_eq!(
            parse_dnf5_toml(&fixture("versionlock.toml")),
            ["bash", "acpi", "*nvidia*"]
        );
    }

    #[test]
    fn spec_names() {
        let cases = [
            ("bash-0:5.1.8-6.el9.*", "bash"),
            ("0:bash-4.2.46-34.el7.*", "bash"),
            ("glibc-2.34-60.el9.x86_64", "glibc"),
            ("xorg-x11-server-Xorg", "xorg-x11-server-Xorg"),
            ("kernel*", "kernel*"),
            ("openssl-libs-1:3.0.7-27.el9.*", "openssl-libs"),
        ];
        for (spec, name) in cases {
            assert_eq!(name_of_spec(spec), name, "{spec}");
        }
    }

    #[test]
    fn globs() {
        let lock = Versionlock {
            patterns: vec!["kernel*".into(), "*nvidia*".into(), "bas?".into()],
        };
        for name in ["kernel", "kernel-core", "xorg-x11-drv-nvidia-libs", "bash"] {
            assert!(lock.holds(name), "{name}");
        }
        for name in ["bashx", "core-kernel", "nvidi"] {
            assert!(!lock.holds(name), "{name}");
        }
        assert!(glob_matches("a*b*c", "aXbYbZc"));
        assert!(!glob_matches("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn files_below_root() {
        let root = tempfile::tempdir().unwrap();
        assert!(
            Versionlock::read(Flavor::Dnf4, Some(root.path()))
                .unwrap()
                .is_empty()
        );

        let plugins = root.path().join("etc/dnf/plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        std::fs::write(plugins.join("versionlock.list"), "bash-0:5.1.8-6.el9.*\n").unwrap();
        let lock = Versionlock::read(Flavor::Dnf4, Some(root.path())).unwrap();
        assert_eq!(lock.patterns, ["bash"]);

        // `locklist` in the plugin configuration names another file, also below the root.
        std::fs::write(
            plugins.join("versionlock.conf"),
            "[main]\nenabled = 1\nlocklist = /etc/dnf/plugins/other.list\n",
        )
        .unwrap();
        std::fs::write(plugins.join("other.list"), "curl-0:7.76.1-29.el9.*\n").unwrap();
        let lock = Versionlock::read(Flavor::Dnf4, Some(root.path())).unwrap();
        assert_eq!(lock.patterns, ["curl"]);

        std::fs::write(
            root.path().join("etc/dnf/versionlock.toml"),
            "version = \"1.0\"\n[[packages]]\nname = \"zsh\"\n",
        )
        .unwrap();
        let lock = Versionlock::read(Flavor::Dnf5, Some(root.path())).unwrap();
        assert_eq!(lock.patterns, ["zsh"]);
    }
}
