//! Embeds the built web UI (`web/dist`, made by `npm run build` in `web/`) into the server.
//!
//! Writes `$OUT_DIR/ui_assets.rs` with a sorted table of `(path, bytes)` pairs, one
//! `include_bytes!` per file. Without `web/dist/index.html` the table is empty and the server
//! serves a page that explains how to build the UI, so the crate builds on a fresh checkout.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let web_dir = manifest_dir.join("../../web");
    let dist = web_dir.join("dist");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());

    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        collect_files(&dist, &dist, &mut files);
        println!("cargo:rerun-if-changed={}", dist.display());
    } else {
        // Watching the folder that will contain `dist` reruns this script once the UI is built.
        // A missing path would instead rerun it, and rebuild the crate, on every build.
        println!("cargo:rerun-if-changed={}", web_dir.display());
    }
    files.sort();

    let mut table = String::from(
        "/// Files of the built web UI: path relative to `web/dist`, and contents. Sorted by path.\n\
         pub(crate) static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for (relative, absolute) in &files {
        let _ = writeln!(table, "    ({relative:?}, include_bytes!({absolute:?})),");
    }
    table.push_str("];\n");

    let target = out_dir.join("ui_assets.rs");
    if let Err(error) = fs::write(&target, table) {
        panic!("failed to write {}: {error}", target.display());
    }
}

/// Appends every regular file under `folder` as (path relative to `root` with `/`, absolute path).
fn collect_files(root: &Path, folder: &Path, files: &mut Vec<(String, String)>) {
    let entries = match fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) => panic!("failed to read {}: {error}", folder.display()),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, files);
            continue;
        }
        let (Ok(relative), Some(absolute)) = (path.strip_prefix(root), path.to_str()) else {
            continue;
        };
        let Some(relative) = relative.to_str() else {
            println!(
                "cargo:warning=skipping web UI file with a non-UTF-8 name: {}",
                path.display()
            );
            continue;
        };
        files.push((relative.replace('\\', "/"), absolute.to_owned()));
    }
}
