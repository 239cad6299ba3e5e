//! Parsing of the JSON document that `wua.ps1` writes, and update classification.
//!
//! Written against the Windows Update Agent API of Windows 10 22H2, Windows 11 23H2 and Server
//! 2022, read through Windows PowerShell 5.1 `ConvertTo-Json`. The script writes exactly one
//! JSON document; any other output is an error that carries the output.

use serde::Deserialize;

/// Category id of the "Security Updates" classification. Ids do not depend on the display
/// language, unlike category names.
pub const SECURITY_UPDATES_CATEGORY: &str = "0fa1201d-4330-4fa8-8ae9-b877473b6441";
/// Category type that WUA gives classifications, as opposed to products.
pub const CLASSIFICATION_TYPE: &str = "UpdateClassification";

/// One category of an update: its classification or a product.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Category {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub category_type: String,
}

/// One update that is not installed and not hidden.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WuaUpdate {
    pub title: String,
    pub update_id: String,
    pub revision_number: u32,
    #[serde(default)]
    pub kb_article_ids: Vec<String>,
    #[serde(default)]
    pub categories: Vec<Category>,
    /// MSRC severity (Critical, Important, Moderate, Low), present on security updates.
    pub msrc_severity: Option<String>,
    pub is_downloaded: bool,
    /// `InstallationBehavior.RebootBehavior`: 0 never, 1 always, 2 can request a reboot.
    pub reboot_behavior: u8,
}

impl WuaUpdate {
    /// Returns whether the update is classified "Security Updates" or has an MSRC severity.
    pub fn is_security(&self) -> bool {
        let classified = self.categories.iter().any(|category| {
            category.category_type == CLASSIFICATION_TYPE
                && category.id.eq_ignore_ascii_case(SECURITY_UPDATES_CATEGORY)
        });
        let severity = self
            .msrc_severity
            .as_deref()
            .is_some_and(|severity| !severity.trim().is_empty());
        classified || severity
    }

    /// Returns the classification name in the display language, such as "Definition Updates".
    pub fn classification(&self) -> Option<&str> {
        self.categories
            .iter()
            .find(|category| category.category_type == CLASSIFICATION_TYPE)
            .map(|category| category.name.as_str())
    }
}

/// Result of one update of an installation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WuaUpdateResult {
    pub update_id: String,
    pub revision_number: u32,
    /// `OperationResultCode`: 2 succeeded, 3 succeeded with errors, 4 failed, 5 aborted.
    pub result_code: i32,
    pub hresult: i32,
}

/// The document `wua.ps1` writes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    Scan {
        updates: Vec<WuaUpdate>,
        reboot_pending: bool,
    },
    Install {
        results: Vec<WuaUpdateResult>,
        reboot_required: bool,
        reboot_pending: bool,
    },
    Error {
        message: String,
        hresult: i32,
    },
}

/// Error of a script output that is not one JSON document of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Windows Update script wrote no valid JSON document ({reason}): {output:?}")]
pub struct ResponseError {
    pub reason: String,
    pub output: String,
}

/// Parses the script output. Whitespace around the document is accepted, nothing else.
pub fn parse_response(output: &str) -> Result<Response, ResponseError> {
    serde_json::from_str(output.trim()).map_err(|error| ResponseError {
        reason: error.to_string(),
        output: output.chars().take(2000).collect(),
    })
}

/// HRESULT `WU_E_INSTALL_NOT_ALLOWED`: another installation is in progress or a reboot is
/// pending that blocks installs.
pub const WU_E_INSTALL_NOT_ALLOWED: u32 = 0x8024_0016;
/// HRESULT `WU_E_SERVICE_STOP`: the service or the system was shutting down.
pub const WU_E_SERVICE_STOP: u32 = 0x8024_001E;

/// Returns whether an HRESULT means that Windows Update is busy, so that the agent retries.
pub fn is_busy_hresult(hresult: i32) -> bool {
    #[allow(clippy::cast_sign_loss)]
    let code = hresult as u32;
    code == WU_E_INSTALL_NOT_ALLOWED || code == WU_E_SERVICE_STOP
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/testdata/windows_update/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn scan_security_and_definition() {
        let Response::Scan {
            updates,
            reboot_pending,
        } = parse_response(&fixture("scan-updates.json")).unwrap()
        else {
            panic!("not a scan");
        };
        assert!(reboot_pending);
        let flags: Vec<(&str, bool)> = updates
            .iter()
            .map(|update| (update.kb_article_ids[0].as_str(), update.is_security()))
            .collect();
        // Cumulative update (security), Defender definitions, .NET (MSRC severity only),
        // a driver-free feature update.
        assert_eq!(
            flags,
            [
                ("5032190", true),
                ("2267602", false),
                ("5031989", true),
                ("5031455", false)
            ]
        );
        assert_eq!(updates[1].classification(), Some("Definition Updates"));
    }

    #[test]
    fn scan_localized_uses_category_id() {
        let Response::Scan { updates, .. } = parse_response(&fixture("scan-german.json")).unwrap()
        else {
            panic!("not a scan");
        };
        assert!(updates[0].is_security());
        assert_eq!(updates[0].classification(), Some("Sicherheitsupdates"));
    }

    #[test]
    fn scan_none() {
        let response = parse_response(&fixture("scan-none.json")).unwrap();
        assert_eq!(
            response,
            Response::Scan {
                updates: Vec::new(),
                reboot_pending: false
            }
        );
    }

    #[test]
    fn error_document_and_busy() {
        let Response::Error { hresult, message } =
            parse_response(&fixture("error-busy.json")).unwrap()
        else {
            panic!("not an error");
        };
        assert!(is_busy_hresult(hresult), "{hresult:#x}");
        assert!(!message.is_empty());
        assert!(!is_busy_hresult(0x8024_402C_u32 as i32));
    }

    #[test]
    fn stray_output_is_an_error() {
        let error = parse_response(&fixture("not-json.txt")).unwrap_err();
        assert!(error.output.contains("cannot be loaded"), "{error}");
    }
}
