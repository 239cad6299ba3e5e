//! The normalized key of an install request, stored in `jobs.request_key`, under which two
//! requests that install the same thing are equal.
//!
//! A unique index over `(host_id, request_key)`, limited to queued, sent and running jobs,
//! rejects a second identical job for a host while the first has not finished.

use sha2::{Digest, Sha256};
use sysmanage_protocol::InstallRequest;

/// Returns the key of `request`: `all`, `security_only`, or `packages:` and the SHA-256 (hex) of
/// the package list sorted by manager, name and version. The order of the packages in the
/// request does not matter; a different version is a different request.
///
/// The hash keeps the key short, so that a list of 1,000 packages still fits into an index
/// entry (PostgreSQL's B-tree takes at most about 2,700 bytes per entry).
// NOTE: the index compares stored keys, so a change to this function needs a migration that
// recomputes `request_key` of the open jobs.
#[must_use]
pub fn request_key(request: &InstallRequest) -> String {
    match request {
        InstallRequest::All => "all".to_owned(),
        InstallRequest::SecurityOnly => "security_only".to_owned(),
        InstallRequest::Packages { packages } => {
            let mut sorted: Vec<[&str; 3]> = packages
                .iter()
                .map(|package| {
                    [
                        package.manager.as_str(),
                        package.name.as_str(),
                        package.version.as_str(),
                    ]
                })
                .collect();
            sorted.sort_unstable();
            // JSON quotes every string, so no package name can run into the next field.
            let canonical = serde_json::Value::from(
                sorted
                    .iter()
                    .map(|fields| serde_json::Value::from(fields.to_vec()))
                    .collect::<Vec<_>>(),
            )
            .to_string();
            format!("packages:{}", hex::encode(Sha256::digest(canonical)))
        }
    }
}

#[cfg(test)]
mod tests {
    use sysmanage_protocol::PackageSpec;

    use super::*;

    fn packages(list: &[(&str, &str, &str)]) -> InstallRequest {
        InstallRequest::Packages {
            packages: list
                .iter()
                .map(|(manager, name, version)| PackageSpec {
                    manager: (*manager).to_owned(),
                    name: (*name).to_owned(),
                    version: (*version).to_owned(),
                })
                .collect(),
        }
    }

    #[test]
    fn order_ignored_content_not() {
        let curl_vim = request_key(&packages(&[("apt", "curl", "8.1"), ("apt", "vim", "9.0")]));
        let vim_curl = request_key(&packages(&[("apt", "vim", "9.0"), ("apt", "curl", "8.1")]));
        assert_eq!(curl_vim, vim_curl);
        assert!(curl_vim.starts_with("packages:"), "{curl_vim}");
        assert_eq!(curl_vim.len(), "packages:".len() + 64);

        let others = [
            request_key(&packages(&[("apt", "curl", "8.1")])),
            request_key(&packages(&[("apt", "curl", "8.2"), ("apt", "vim", "9.0")])),
            request_key(&packages(&[("snap", "curl", "8.1"), ("apt", "vim", "9.0")])),
            request_key(&packages(&[("apt", "curl 8.1", ""), ("apt", "vim", "9.0")])),
            request_key(&InstallRequest::All),
            request_key(&InstallRequest::SecurityOnly),
        ];
        for other in &others {
            assert_ne!(&curl_vim, other);
        }
        assert_eq!(request_key(&InstallRequest::All), "all");
        assert_eq!(request_key(&InstallRequest::SecurityOnly), "security_only");
    }
}
