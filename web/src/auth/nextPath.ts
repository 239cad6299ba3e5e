/**
 * The `next` query parameter of the login page: the page to open after login.
 *
 * Anyone can send a link to `/ui/login?next=...`, so the value is accepted only as a path of
 * this origin under {@link UI_BASENAME}. Anything else, such as `https://evil.example` or
 * `//evil.example`, falls back to the dashboard, so the login page never leads to another site.
 */

/** Path under which the server serves the UI, and the router's basename. */
export const UI_BASENAME = "/ui";

/** Query parameter of the login page that names the page to open after login. */
export const NEXT_PARAMETER = "next";

/**
 * Returns the login page's router path that leads back to `href` (a path with the basename, as
 * `useHref` returns it) after login. The dashboard needs no `next`.
 */
export function loginPathFor(href: string): string {
  if (href === UI_BASENAME || href === `${UI_BASENAME}/`) {
    return "/login";
  }
  return `/login?${new URLSearchParams({ [NEXT_PARAMETER]: href })}`;
}

/**
 * Returns the router path (without the basename) that `next` names, or `/` when `next` is
 * missing, not a path of this origin under the UI, or the login page itself.
 */
export function routerPathFromNext(
  next: string | null,
  origin: string = window.location.origin,
): string {
  // Only a single leading slash makes a path. "//host" and "/\host" are other hosts to a browser.
  if (next === null || !/^\/(?![/\\])/.test(next)) {
    return "/";
  }
  let url: URL;
  try {
    url = new URL(next, origin);
  } catch {
    return "/";
  }
  if (url.origin !== origin) {
    return "/";
  }
  // The URL parser has resolved dot segments, so "/ui/../admin" arrives here as "/admin".
  const { pathname } = url;
  if (pathname !== UI_BASENAME && !pathname.startsWith(`${UI_BASENAME}/`)) {
    return "/";
  }
  const path = pathname.slice(UI_BASENAME.length) || "/";
  if (path === "/login" || path.startsWith("/login/")) {
    return "/";
  }
  // "/ui//host" leaves "//host", which the router rejects as a URL of another host.
  if (/^\/[/\\]/.test(path)) {
    return "/";
  }
  return `${path}${url.search}${url.hash}`;
}
