//! Embeds every file under src/web/client/ (the browser client) into the
//! binary: writes `$OUT_DIR/web_assets.rs`, a table of URL paths, content
//! types and `include_bytes!` of each file, so adding a file to the
//! client needs no change to the code that serves it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("src/web/client");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let mut table = String::from("&[\n");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        writeln!(
            table,
            "    ({:?}, {:?}, include_bytes!({:?})),",
            format!("/{relative}"),
            content_type(file),
            file.display().to_string()
        )
        .unwrap();
    }
    table.push_str("]\n");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("web_assets.rs");
    fs::write(out, table).unwrap();
}

/// Every file under `dir`, depth first; a missing directory has none.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|ext| ext.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
