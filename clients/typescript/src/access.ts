/** Which events end a person's access in an organization. */

/**
 * The events after which the person may no longer use the application in the event's
 * organization (an organization's deletion ends everyone's; a suspension ends the
 * account's everywhere and comes with `sessions.revoked`).
 */
export const ENDS_ACCESS: ReadonlySet<string> = new Set([
  "membership.deactivated",
  "membership.deleted",
  "user.deleted",
  "user.suspended",
  "sessions.revoked",
  "organization.deleted",
]);

/**
 * Whether this event ends the person's access in its organization. Losing every role
 * (`membership.roles_changed` with no roles) does not: the membership stays active.
 */
export function endsAccess(event: { type: string }): boolean {
  return ENDS_ACCESS.has(event.type);
}
