//! Serves the web UI: `/` redirects to `/ui/`, and `/ui/...` serves the files of `web/dist`
//! embedded at build time by `build.rs`.
//!
//! Client-side routes (`/ui/hosts/7`) get `index.html` so that reloading a page works. Files
//! under `/ui/assets/` have content hashes in their names and are cached for a year; everything
//! else must be revalidated. A server built before the UI was built serves an explanation instead.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// A sorted table of (path relative to `web/dist`, contents).
type AssetTable = [(&'static str, &'static [u8])];

/// Cache policy of content-hashed files: they never change under the same name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache policy of everything else, `index.html` above all: revalidate on every load.
const REVALIDATE: &str = "no-cache";

/// Page served when the binary was built without `web/dist`.
const NOT_BUILT_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>SysManage: web UI not built</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto; line-height: 1.5">
<h1>The web UI is not part of this build</h1>
<p>This <code>sysmanage-server</code> binary was compiled before the web UI was built, so it has
no UI files to serve. The REST API works as usual.</p>
<p>To include the UI, build it and then rebuild the server:</p>
<pre>cd web
npm ci &amp;&amp; npm run build
cd ..
cargo build --release -p sysmanage-server</pre>
<p>Building the UI needs Node.js 20 or later with npm.</p>
</body>
</html>
"#;

/// Routes of the UI. Generic over the state so that it merges into any router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(redirect_to_ui))
        .route("/ui", get(redirect_to_ui))
        .route("/ui/", get(index))
        .route("/ui/{*path}", get(file))
}

async fn redirect_to_ui() -> Redirect {
    Redirect::permanent("/ui/")
}

async fn index() -> Response {
    respond(ASSETS, "")
}

async fn file(Path(path): Path<String>) -> Response {
    respond(ASSETS, &path)
}

/// Builds the response for `path` (relative to `/ui/`) from a sorted asset table.
fn respond(assets: &AssetTable, path: &str) -> Response {
    let Some(index) = find(assets, "index.html") else {
        return (StatusCode::SERVICE_UNAVAILABLE, Html(NOT_BUILT_PAGE)).into_response();
    };

    if let Some(contents) = find(assets, path) {
        let cache = if path.starts_with("assets/") {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        return (
            [
                (header::CONTENT_TYPE, content_type(path)),
                (header::CACHE_CONTROL, cache),
            ],
            contents,
        )
            .into_response();
    }

    // A last segment with a dot is a request for a file, so a missing one is a 404, not the app.
    let last_segment = path.rsplit('/').next().unwrap_or_default();
    if last_segment.contains('.') {
        return (
            StatusCode::NOT_FOUND,
            format!("{path} not found in the web UI"),
        )
            .into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, REVALIDATE),
        ],
        index,
    )
        .into_response()
}

fn find(assets: &AssetTable, path: &str) -> Option<&'static [u8]> {
    assets
        .binary_search_by(|(name, _)| (*name).cmp(path))
        .ok()
        .and_then(|position| assets.get(position))
        .map(|(_, contents)| *contents)
}

/// Returns the `Content-Type` for the file extensions that a Vite build produces.
fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, extension)| extension);
    match extension.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    const BUILT: &AssetTable = &[
        ("assets/index-3f2a.js", b"console.log(1)"),
        ("favicon.svg", b"<svg/>"),
        ("index.html", b"<!doctype html><div id=root></div>"),
    ];

    async fn body_text(response: Response) -> String {
        let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn header_value(response: &Response, name: header::HeaderName) -> String {
        response.headers()[name].to_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn root_redirects_to_ui() {
        for path in ["/", "/ui"] {
            let response = routes::<()>()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT, "{path}");
            assert_eq!(header_value(&response, header::LOCATION), "/ui/", "{path}");
        }
    }

    #[tokio::test]
    async fn ui_route_answers() {
        let response = routes::<()>()
            .oneshot(Request::get("/ui/hosts/1").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let expected = if ASSETS.is_empty() {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        };
        assert_eq!(response.status(), expected);
        assert!(header_value(&response, header::CONTENT_TYPE).starts_with("text/html"));
    }

    #[tokio::test]
    async fn unbuilt_ui_explains_how_to_build() {
        let response = respond(&[], "");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(header_value(&response, header::CONTENT_TYPE).starts_with("text/html"));
        let body = body_text(response).await;
        assert!(body.contains("npm ci &amp;&amp; npm run build"), "{body}");
        assert!(body.contains("cargo build"), "{body}");

        let client_route = respond(&[], "hosts/3");
        assert_eq!(client_route.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn hashed_asset_is_immutable() {
        let response = respond(BUILT, "assets/index-3f2a.js");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header_value(&response, header::CONTENT_TYPE),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(header_value(&response, header::CACHE_CONTROL), IMMUTABLE);
        assert_eq!(body_text(response).await, "console.log(1)");
    }

    #[tokio::test]
    async fn unhashed_file_is_revalidated() {
        let response = respond(BUILT, "favicon.svg");
        assert_eq!(
            header_value(&response, header::CONTENT_TYPE),
            "image/svg+xml"
        );
        assert_eq!(header_value(&response, header::CACHE_CONTROL), REVALIDATE);
    }

    #[tokio::test]
    async fn client_route_gets_index() {
        for path in ["", "hosts", "hosts/12", "jobs/4/"] {
            let response = respond(BUILT, path);
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(header_value(&response, header::CACHE_CONTROL), REVALIDATE);
            assert!(body_text(response).await.contains("id=root"), "{path}");
        }
    }

    #[tokio::test]
    async fn missing_file_is_not_found() {
        let response = respond(BUILT, "assets/gone-1234.js");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
