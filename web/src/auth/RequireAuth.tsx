import type { ReactNode } from "react";
import { Navigate, useHref, useLocation } from "react-router";
import { loginPathFor } from "./nextPath";
import { useAuth } from "./useAuth";

/**
 * Renders its children when logged in, else redirects to the login page with the current page
 * in its `next` parameter, so that login returns there. Every reload of a page redirects, because
 * the token lives only in memory.
 */
export function RequireAuth({ children }: { children: ReactNode }) {
  const { authenticated } = useAuth();
  const location = useLocation();
  // The href includes the basename, so `next` is the path as the browser shows it.
  const href = useHref(location);
  if (!authenticated) {
    return <Navigate to={loginPathFor(href)} replace />;
  }
  return children;
}
