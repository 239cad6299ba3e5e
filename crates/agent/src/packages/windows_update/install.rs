//! Installs with the Windows Update Agent: the request to the script, how the script runs,
//! and the per-update result codes.

use base64::Engine as _;
use sysmanage_protocol::{PackageOutcome, PackageSpec, ValidationError};

use super::MANAGER;
use super::detect::WuaUpdateResult;

/// The PowerShell script, run unchanged: data reaches it only through the request variable.
pub const SCRIPT: &str = include_str!("wua.ps1");
/// Environment variable that carries the JSON request to the script.
pub const REQUEST_VARIABLE: &str = "SYSMANAGE_WUA_REQUEST";

/// Checks that a spec names an update by its `UpdateID` (a GUID) and revision number.
pub fn validate_spec(spec: &PackageSpec) -> Result<(), ValidationError> {
    let error = |field, value: &str, reason| ValidationError {
        field,
        value: value.to_owned(),
        reason,
    };
    if spec.manager != MANAGER {
        return Err(error("manager", &spec.manager, "is not windows_update"));
    }
    let is_guid = spec.name.len() == 36
        && spec.name.char_indices().all(|(index, c)| {
            if [8, 13, 18, 23].contains(&index) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    if !is_guid {
        return Err(error(
            "package name",
            &spec.name,
            "must be a Windows Update UpdateID (a GUID)",
        ));
    }
    if spec.version.parse::<u32>().is_err() {
        return Err(error(
            "version",
            &spec.version,
            "must be a Windows Update revision number",
        ));
    }
    Ok(())
}

/// Builds the JSON request of a scan.
pub fn scan_request() -> String {
    serde_json::json!({ "action": "scan" }).to_string()
}

/// Builds the JSON request that installs these updates by `UpdateID`.
pub fn install_request(specs: &[PackageSpec]) -> String {
    let ids: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
    serde_json::json!({ "action": "install", "update_ids": ids }).to_string()
}

/// Encodes the script for `powershell.exe -EncodedCommand`: base64 of UTF-16LE.
pub fn encoded_script() -> String {
    let bytes: Vec<u8> = SCRIPT.encode_utf16().flat_map(u16::to_le_bytes).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Builds the powershell.exe arguments that run the script.
pub fn powershell_arguments() -> Vec<String> {
    [
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-EncodedCommand",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(std::iter::once(encoded_script()))
    .collect()
}

/// Decodes one update's `ResultCode` (`OperationResultCode`) and `HResult` into an outcome and a
/// message.
pub fn decode_result(result: &WuaUpdateResult) -> (PackageOutcome, Option<String>) {
    #[allow(clippy::cast_sign_loss)]
    let hresult = result.hresult as u32;
    match result.result_code {
        2 => (PackageOutcome::Installed, None),
        3 => (
            PackageOutcome::Installed,
            Some(format!("installed with errors (HRESULT 0x{hresult:08X})")),
        ),
        4 => (
            PackageOutcome::Failed,
            Some(format!("installation failed (HRESULT 0x{hresult:08X})")),
        ),
        5 => (
            PackageOutcome::Failed,
            Some(format!(
                "installation was aborted (HRESULT 0x{hresult:08X})"
            )),
        ),
        code => (
            PackageOutcome::Failed,
            Some(format!(
                "installation did not finish, result code {code} (HRESULT 0x{hresult:08X})"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::windows_update::detect::{Response, parse_response};

    fn spec(name: &str, version: &str) -> PackageSpec {
        PackageSpec {
            manager: MANAGER.into(),
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn result_codes() {
        let path = format!(
            "{}/testdata/windows_update/install-results.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let Response::Install {
            results,
            reboot_required,
            ..
        } = parse_response(&std::fs::read_to_string(path).unwrap()).unwrap()
        else {
            panic!("not an install");
        };
        assert!(reboot_required);
        let outcomes: Vec<PackageOutcome> = results
            .iter()
            .map(|result| decode_result(result).0)
            .collect();
        assert_eq!(
            outcomes,
            [
                PackageOutcome::Installed,
                PackageOutcome::Installed,
                PackageOutcome::Failed,
                PackageOutcome::Failed
            ]
        );
        let failed = decode_result(&results[2]).1.unwrap();
        assert!(failed.contains("0x80070643"), "{failed}");
        assert!(decode_result(&results[3]).1.unwrap().contains("aborted"));
    }

    #[test]
    fn specs_must_be_guid_and_revision() {
        assert!(validate_spec(&spec("8a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8", "201")).is_ok());
        assert!(validate_spec(&spec("KB5032190", "201")).is_err());
        assert!(validate_spec(&spec("8a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8", "1.0")).is_err());
        assert!(validate_spec(&spec("8a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8'; rm", "1")).is_err());
    }

    #[test]
    fn request_carries_ids_as_json() {
        let request = install_request(&[spec("8a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8", "201")]);
        assert_eq!(
            request,
            r#"{"action":"install","update_ids":["8a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8"]}"#
        );
        assert_eq!(scan_request(), r#"{"action":"scan"}"#);
    }

    #[test]
    fn script_is_encoded_unchanged() {
        let arguments = powershell_arguments();
        assert_eq!(
            arguments[..5],
            [
                "-NoProfile",
                "-NonInteractive",
                "-ExecutionPolicy",
                "Bypass",
                "-EncodedCommand"
            ]
        );
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&arguments[5])
            .unwrap();
        let units: Vec<u16> = bytes
            .chunks(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        assert_eq!(String::from_utf16(&units).unwrap(), SCRIPT);
        // Windows limits a command line to 32767 characters.
        assert!(arguments[5].len() < 30_000, "{}", arguments[5].len());
    }
}
