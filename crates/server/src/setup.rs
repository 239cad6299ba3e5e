//! `sysmanage-server setup`: writes `sysmanage.yaml` for a PostgreSQL installation and
//! `createdb.sh`, which creates the database role and the database.
//!
//! Values come from flags, and when standard input is a terminal and `--non-interactive` is
//! absent, from prompts for every value that no flag gave. It never prints a password.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::config::Config;
use crate::users;

/// Name of the configuration file that setup writes.
pub const CONFIG_FILE: &str = "sysmanage.yaml";
/// Name of the database creation script that setup writes.
pub const SCRIPT_FILE: &str = "createdb.sh";
/// `data_dir` written to the configuration: the systemd `StateDirectory` of the server.
pub const PRODUCTION_DATA_DIR: &str = "/var/lib/sysmanage";

/// Longest PostgreSQL identifier in bytes (NAMEDATALEN - 1). PostgreSQL truncates longer
/// names, which would then no longer match the URL.
const MAX_IDENTIFIER_BYTES: usize = 63;

/// Characters left as they are in URL user info and path: the RFC 3986 unreserved set.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Flags of `sysmanage-server setup`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SetupArgs {
    /// PostgreSQL host that the server connects to. Default: localhost.
    #[arg(long)]
    pub db_host: Option<String>,
    /// PostgreSQL port. Default: 5432.
    #[arg(long)]
    pub db_port: Option<u16>,
    /// Name of the database to create. Default: sysmanage.
    #[arg(long)]
    pub db_name: Option<String>,
    /// Name of the database role to create. Default: sysmanage.
    #[arg(long)]
    pub db_user: Option<String>,
    /// Password of the database role. Default: a random one. Prefer the environment variable
    /// over the flag, because other local users can read command lines.
    #[arg(long, env = "SYSMANAGE_SETUP_DB_PASSWORD", hide_env_values = true)]
    pub db_password: Option<String>,
    /// User id of the first administrator. Default: admin.
    #[arg(long)]
    pub admin_user: Option<String>,
    /// Address and port the server listens on. Default: 127.0.0.1:8000.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain for HTTPS. Needs --key-file.
    #[arg(long)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key for HTTPS. Needs --cert-file.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Folder to write sysmanage.yaml and createdb.sh to. Default: the current folder.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Never prompt; take every value from flags or defaults.
    #[arg(long)]
    pub non_interactive: bool,
    /// Overwrite sysmanage.yaml and createdb.sh if they exist.
    #[arg(long)]
    pub force: bool,
}

/// The values that setup writes, after flags, prompts and defaults.
#[derive(Debug, Clone)]
struct SetupValues {
    db_host: String,
    db_port: u16,
    db_name: String,
    db_user: String,
    db_password: String,
    password_generated: bool,
    admin_user: String,
    listen: SocketAddr,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    output_dir: PathBuf,
}

/// Runs setup: collects the values, checks them, and writes both files.
///
/// `input` is read for prompts only when `interactive` is true. Progress and next steps go to
/// `output`.
pub fn run(
    args: &SetupArgs,
    input: &mut impl BufRead,
    output: &mut impl Write,
    interactive: bool,
) -> anyhow::Result<()> {
    let values = collect_values(args, input, output, interactive)?;
    validate(&values)?;

    let config_path = values.output_dir.join(CONFIG_FILE);
    let script_path = values.output_dir.join(SCRIPT_FILE);
    if !args.force {
        for path in [&config_path, &script_path] {
            if path.exists() {
                anyhow::bail!(
                    "{} already exists; move it away or pass --force to overwrite it",
                    path.display()
                );
            }
        }
    }
    fs::create_dir_all(&values.output_dir)
        .with_context(|| format!("failed to create folder {}", values.output_dir.display()))?;

    let config_text = config_yaml(&values)?;
    write_file(&config_path, &config_text, 0o600, args.force)?;
    write_file(&script_path, &createdb_script(&values), 0o700, args.force)?;
    tracing::info!(
        config = %config_path.display(),
        script = %script_path.display(),
        "setup wrote configuration and database script"
    );

    writeln!(output, "Wrote {} (mode 0600).", config_path.display())?;
    writeln!(output, "Wrote {} (mode 0700).", script_path.display())?;
    if values.password_generated {
        writeln!(
            output,
            "Generated a random database password; it is stored only in {CONFIG_FILE} and {SCRIPT_FILE}."
        )?;
    }
    writeln!(output, "Next steps:")?;
    writeln!(
        output,
        "  1. Create the role and database as a PostgreSQL superuser: sudo -u postgres sh < {}",
        script_path.display()
    )?;
    writeln!(
        output,
        "  2. Create the tables: sysmanage-server --config {} db upgrade",
        config_path.display()
    )?;
    writeln!(
        output,
        "  3. Start the server: sysmanage-server --config {} serve",
        config_path.display()
    )?;
    writeln!(
        output,
        "     The first start creates the administrator '{}' and prints its password once.",
        values.admin_user
    )?;
    Ok(())
}

fn collect_values(
    args: &SetupArgs,
    input: &mut impl BufRead,
    output: &mut impl Write,
    interactive: bool,
) -> anyhow::Result<SetupValues> {
    let mut ask = |label: &str, given: Option<String>, default: &str| -> anyhow::Result<String> {
        if let Some(value) = given {
            return Ok(value);
        }
        if !interactive {
            return Ok(default.to_owned());
        }
        prompt(input, output, label, default)
    };

    let db_host = ask("PostgreSQL host", args.db_host.clone(), "localhost")?;
    let db_port = ask(
        "PostgreSQL port",
        args.db_port.map(|port| port.to_string()),
        "5432",
    )?;
    let db_port: u16 = db_port
        .trim()
        .parse()
        .with_context(|| format!("invalid PostgreSQL port {db_port:?}: expected 1 to 65535"))?;
    let db_name = ask("Database name", args.db_name.clone(), "sysmanage")?;
    let db_user = ask("Database role", args.db_user.clone(), "sysmanage")?;
    let admin_user = ask("Administrator user id", args.admin_user.clone(), "admin")?;
    let listen = ask(
        "Listen address",
        args.listen.map(|address| address.to_string()),
        "127.0.0.1:8000",
    )?;
    let listen: SocketAddr = listen
        .trim()
        .parse()
        .with_context(|| format!("invalid listen address {listen:?}: expected IP:PORT"))?;
    let cert_file = ask(
        "TLS certificate file (empty for plain HTTP)",
        optional_path(args.cert_file.as_ref()),
        "",
    )?;
    let key_file = if cert_file.is_empty() {
        optional_path(args.key_file.as_ref()).unwrap_or_default()
    } else {
        ask(
            "TLS private key file",
            optional_path(args.key_file.as_ref()),
            "",
        )?
    };
    let output_dir = ask(
        "Folder for the files",
        optional_path(args.output_dir.as_ref()),
        ".",
    )?;

    // The password is not prompted for, so that it never shows on the terminal.
    let (db_password, password_generated) = match &args.db_password {
        Some(password) => (password.clone(), false),
        None => (random_secret(24)?, true),
    };

    Ok(SetupValues {
        db_host,
        db_port,
        db_name,
        db_user,
        db_password,
        password_generated,
        admin_user,
        listen,
        cert_file: non_empty_path(cert_file),
        key_file: non_empty_path(key_file),
        output_dir: PathBuf::from(output_dir),
    })
}

fn optional_path(path: Option<&PathBuf>) -> Option<String> {
    path.map(|path| path.display().to_string())
}

fn non_empty_path(path: String) -> Option<PathBuf> {
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// Prints `label [default]: ` and reads one line. An empty line means the default.
fn prompt(
    input: &mut impl BufRead,
    output: &mut impl Write,
    label: &str,
    default: &str,
) -> anyhow::Result<String> {
    if default.is_empty() {
        write!(output, "{label}: ")?;
    } else {
        write!(output, "{label} [{default}]: ")?;
    }
    output.flush()?;
    let mut line = String::new();
    input
        .read_line(&mut line)
        .context("failed to read from standard input")?;
    let line = line.trim_end_matches(['\n', '\r']);
    Ok(if line.is_empty() {
        default.to_owned()
    } else {
        line.to_owned()
    })
}

/// Returns `bytes` random bytes in base64url without padding.
fn random_secret(bytes: usize) -> anyhow::Result<String> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)
        .map_err(|error| anyhow::anyhow!("failed to get random bytes: {error}"))?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

fn validate(values: &SetupValues) -> anyhow::Result<()> {
    let host = &values.db_host;
    if host.is_empty()
        || host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "/@?#[]".contains(c))
    {
        anyhow::bail!("invalid --db-host {host:?}: expected a host name or IP address");
    }
    for (flag, identifier) in [
        ("--db-name", &values.db_name),
        ("--db-user", &values.db_user),
    ] {
        if identifier.is_empty() || identifier.len() > MAX_IDENTIFIER_BYTES {
            anyhow::bail!(
                "invalid {flag} {identifier:?}: must be 1 to {MAX_IDENTIFIER_BYTES} bytes long"
            );
        }
        if identifier.chars().any(char::is_control) {
            anyhow::bail!("invalid {flag} {identifier:?}: must not contain control characters");
        }
    }
    if values.db_password.is_empty() || values.db_password.chars().any(char::is_control) {
        anyhow::bail!("invalid --db-password: must be non-empty and without control characters");
    }
    users::validate_userid(&values.admin_user).map_err(|message| {
        anyhow::anyhow!("invalid --admin-user {:?}: {message}", values.admin_user)
    })?;
    if values.cert_file.is_some() != values.key_file.is_some() {
        anyhow::bail!("--cert-file and --key-file must be given together");
    }
    Ok(())
}

/// Returns the PostgreSQL URL with user, password and database percent-encoded.
fn database_url(values: &SetupValues) -> String {
    let host = if values.db_host.contains(':') {
        format!("[{}]", values.db_host)
    } else {
        values.db_host.clone()
    };
    format!(
        "postgres://{}:{}@{host}:{}/{}",
        utf8_percent_encode(&values.db_user, URL_COMPONENT),
        utf8_percent_encode(&values.db_password, URL_COMPONENT),
        values.db_port,
        utf8_percent_encode(&values.db_name, URL_COMPONENT),
    )
}

fn config_yaml(values: &SetupValues) -> anyhow::Result<String> {
    let mut config = Config {
        // An absolute folder, because a production server's working directory is arbitrary.
        data_dir: PathBuf::from(PRODUCTION_DATA_DIR),
        ..Config::default()
    };
    config.api.listen = values.listen;
    config.api.cert_file.clone_from(&values.cert_file);
    config.api.key_file.clone_from(&values.key_file);
    config.database.url = Some(database_url(values));
    config.security.admin_userid.clone_from(&values.admin_user);
    config.security.enrollment_key = Some(random_secret(32)?);
    config
        .validate()
        .context("setup produced an invalid configuration")?;

    let body =
        serde_norway::to_string(&config).context("failed to write the configuration as YAML")?;
    Ok(format!(
        "# SysManage server configuration, written by `sysmanage-server setup`.\n\
         # Contains the database password and the agent enrollment key: keep it mode 0600.\n\
         # Every key is described in docs/configuration.md.\n{body}"
    ))
}

/// Quotes a PostgreSQL identifier: wrapped in `"` with every `"` doubled.
fn quote_identifier(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Quotes a PostgreSQL string literal: wrapped in `'` with every `'` doubled. Backslashes are
/// literal because `standard_conforming_strings` is on (the default since PostgreSQL 9.1).
fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Returns the script that creates the role and the database.
///
/// The SQL goes to psql through a quoted heredoc (`<<'SQL'`), so the shell expands nothing in
/// it, and psql does not substitute variables inside quoted literals and identifiers. Values
/// with control characters, newlines included, were rejected before, so no value can end the
/// heredoc.
fn createdb_script(values: &SetupValues) -> String {
    let role = quote_identifier(&values.db_user);
    let database = quote_identifier(&values.db_name);
    let password = quote_literal(&values.db_password);
    format!(
        "#!/bin/sh\n\
         # Creates the PostgreSQL role and database of SysManage. Written by `sysmanage-server setup`.\n\
         # Run it as a PostgreSQL superuser, for example: sudo -u postgres sh < createdb.sh\n\
         # (on standard input, because the postgres user cannot read this private file).\n\
         # psql takes the connection from PGHOST, PGPORT and PGUSER, for example:\n\
         #   PGHOST=db.example.org PGUSER=postgres sh < createdb.sh\n\
         # This file contains the role's password: keep it private and delete it once it has run.\n\
         set -eu\n\
         psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname=\"${{PGDATABASE:-postgres}}\" <<'SQL'\n\
         CREATE ROLE {role} LOGIN PASSWORD {password};\n\
         CREATE DATABASE {database} OWNER {role} ENCODING 'UTF8' TEMPLATE template0;\n\
         SQL\n"
    )
}

/// Writes `text` to `path` with `mode`. Without `overwrite` an existing file is an error.
fn write_file(path: &Path, text: &str, mode: u32, overwrite: bool) -> anyhow::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).mode(mode);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    // `mode` applies only to a new file, so an overwritten file gets it here.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .with_context(|| format!("failed to set the mode of {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("failed to write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> SetupValues {
        SetupValues {
            db_host: "localhost".to_owned(),
            db_port: 5432,
            db_name: "sysmanage".to_owned(),
            db_user: "sysmanage".to_owned(),
            db_password: "secret".to_owned(),
            password_generated: false,
            admin_user: "admin".to_owned(),
            listen: "127.0.0.1:8000".parse().unwrap(),
            cert_file: None,
            key_file: None,
            output_dir: PathBuf::from("."),
        }
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote_identifier(r#"a"b"#), r#""a""b""#);
        assert_eq!(quote_literal(r"it's \ $x"), r"'it''s \ $x'");
    }

    #[test]
    fn url_encodes_user_password_and_name() {
        let mut values = values();
        values.db_user = "o'neil".to_owned();
        values.db_password = "p@ss:w/rd %$".to_owned();
        values.db_name = "my db".to_owned();
        values.db_host = "::1".to_owned();
        assert_eq!(
            database_url(&values),
            "postgres://o%27neil:p%40ss%3Aw%2Frd%20%25%24@[::1]:5432/my%20db"
        );
    }

    #[test]
    fn validation_rejects_newlines_and_long_names() {
        let mut bad = values();
        bad.db_password = "line\nSQL\n".to_owned();
        assert!(validate(&bad).is_err());

        let mut bad = values();
        bad.db_name = "x".repeat(MAX_IDENTIFIER_BYTES + 1);
        assert!(validate(&bad).is_err());

        let mut bad = values();
        bad.cert_file = Some(PathBuf::from("cert.pem"));
        assert!(validate(&bad).is_err());

        assert!(validate(&values()).is_ok());
    }

    #[test]
    fn prompts_use_defaults_and_answers() {
        let args = SetupArgs {
            db_name: Some("fromflag".to_owned()),
            ..SetupArgs::default()
        };
        // Answers in prompt order, with db name skipped because a flag gave it: host, port,
        // role, admin, listen, certificate (empty), output folder.
        let mut input = std::io::Cursor::new("db.example.org\n\nops\n\n\n\n/tmp/out\n");
        let mut output = Vec::new();
        let values = collect_values(&args, &mut input, &mut output, true).unwrap();
        assert_eq!(values.db_host, "db.example.org");
        assert_eq!(values.db_port, 5432);
        assert_eq!(values.db_name, "fromflag");
        assert_eq!(values.db_user, "ops");
        assert_eq!(values.admin_user, "admin");
        assert_eq!(values.cert_file, None);
        assert_eq!(values.output_dir, PathBuf::from("/tmp/out"));
        assert!(values.password_generated);
        let shown = String::from_utf8(output).unwrap();
        assert!(shown.contains("PostgreSQL host [localhost]: "), "{shown}");
        assert!(!shown.contains("Database name"), "{shown}");
    }
}
