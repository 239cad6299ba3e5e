import {
  Alert,
  Button,
  Group,
  Modal,
  PasswordInput,
  Stack,
} from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useApi } from "../api/ApiContext";
import { ApiError } from "../api/client";
import { changeOwnPassword } from "../api/endpoints";
import { notifySuccess } from "../components/notify";

/** Request fields whose 422 errors show under their input. */
type PasswordField = "current_password" | "new_password";

interface FormError {
  field?: PasswordField | "confirm_password";
  message: string;
}

/** Turns a failed call into the message to show, and the input it belongs to, if any. */
function describeFailure(failure: unknown): FormError {
  if (!(failure instanceof ApiError)) {
    return {
      message: failure instanceof Error ? failure.message : String(failure),
    };
  }
  if (failure.status === 429) {
    const wait =
      failure.retryAfterSecs === undefined
        ? "Try again later."
        : `Try again in ${failure.retryAfterSecs} seconds.`;
    return {
      message: `Too many wrong passwords for this user. ${wait}`,
    };
  }
  if (
    failure.status === 422 &&
    (failure.field === "current_password" || failure.field === "new_password")
  ) {
    // The server writes "invalid FIELD: reason"; under the input, the reason is enough.
    const prefix = `invalid ${failure.field}: `;
    const reason = failure.message.startsWith(prefix)
      ? failure.message.slice(prefix.length)
      : failure.message;
    return {
      field: failure.field,
      message: reason.charAt(0).toUpperCase() + reason.slice(1),
    };
  }
  return { message: failure.message };
}

/**
 * Form with which the signed-in user changes their own password. The server ends the user's
 * other sessions and keeps this one, so the user stays logged in.
 */
export function ChangePasswordModal({
  opened,
  onClose,
}: {
  opened: boolean;
  onClose: () => void;
}) {
  const api = useApi();
  const [currentPassword, setCurrentPassword] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [confirmPassword, setConfirmPassword] = useState("");
  const [error, setError] = useState<FormError | null>(null);
  const [saving, setSaving] = useState(false);

  const close = () => {
    setCurrentPassword("");
    setNewPassword("");
    setConfirmPassword("");
    setError(null);
    onClose();
  };

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (newPassword !== confirmPassword) {
      setError({
        field: "confirm_password",
        message: "The two new passwords differ. Type the same password twice.",
      });
      return;
    }
    setSaving(true);
    setError(null);
    try {
      await changeOwnPassword(api, currentPassword, newPassword);
      notifySuccess(
        "Your password was changed. Your other sessions were logged out.",
      );
      close();
    } catch (failure) {
      setError(describeFailure(failure));
    } finally {
      setSaving(false);
    }
  }

  const fieldError = (field: FormError["field"]) =>
    error !== null && error.field === field ? error.message : undefined;

  return (
    <Modal
      opened={opened}
      onClose={() => {
        if (!saving) {
          close();
        }
      }}
      title="Change password"
    >
      <form onSubmit={submit} aria-label="Change password">
        <Stack>
          {error && error.field === undefined && (
            <Alert color="red" role="alert">
              {error.message}
            </Alert>
          )}
          <PasswordInput
            label="Current password"
            autoComplete="current-password"
            required
            data-autofocus
            value={currentPassword}
            onChange={(event) => setCurrentPassword(event.currentTarget.value)}
            error={fieldError("current_password")}
          />
          <PasswordInput
            label="New password"
            description="At least 8 characters."
            autoComplete="new-password"
            required
            value={newPassword}
            onChange={(event) => setNewPassword(event.currentTarget.value)}
            error={fieldError("new_password")}
          />
          <PasswordInput
            label="Confirm new password"
            autoComplete="new-password"
            required
            value={confirmPassword}
            onChange={(event) => setConfirmPassword(event.currentTarget.value)}
            error={fieldError("confirm_password")}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={close} disabled={saving}>
              Cancel
            </Button>
            <Button
              type="submit"
              loading={saving}
              disabled={
                currentPassword === "" ||
                newPassword === "" ||
                confirmPassword === ""
              }
            >
              Save new password
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
