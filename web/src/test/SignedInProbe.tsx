import { useCurrentUser } from "../auth/useCurrentUser";

/**
 * Shows "signed in as USERID" once the signed-in user's record has loaded, from the query cache
 * the page uses. Tests wait for it before they check that admin-only controls are absent,
 * because pages hide those controls until the record is known.
 */
export function SignedInProbe() {
  const { user } = useCurrentUser();
  return user ? <p>signed in as {user.userid}</p> : null;
}
