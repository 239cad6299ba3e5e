import {
  Alert,
  Button,
  Group,
  Modal,
  PasswordInput,
  Stack,
  Switch,
  TextInput,
} from "@mantine/core";
import { useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import type { UserInput } from "../api/endpoints";
import type { User } from "../api/types";

interface Props {
  /** The user to edit, or null to create one. */
  user: User | null;
  opened: boolean;
  onClose: () => void;
  onSubmit: (input: UserInput) => Promise<unknown>;
}

/** Form to create a user, or to change the password and flags of one. */
export function UserFormModal({ user, opened, onClose, onSubmit }: Props) {
  const [userid, setUserid] = useState(user?.userid ?? "");
  const [password, setPassword] = useState("");
  const [isAdmin, setIsAdmin] = useState(user?.is_admin ?? false);
  const [active, setActive] = useState(user?.active ?? true);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [saving, setSaving] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSaving(true);
    setError(null);
    const input: UserInput = { is_admin: isAdmin, active };
    if (user === null) {
      input.userid = userid.trim();
    }
    if (password !== "") {
      input.password = password;
    }
    try {
      await onSubmit(input);
      onClose();
    } catch (failure) {
      setError(failure instanceof Error ? failure : new Error(String(failure)));
    } finally {
      setSaving(false);
    }
  }

  const field = error instanceof ApiError ? error.field : undefined;
  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={user ? `Edit ${user.userid}` : "New user"}
    >
      <form onSubmit={submit}>
        <Stack>
          {error && !field && <Alert color="red">{error.message}</Alert>}
          <TextInput
            label="User ID"
            required
            disabled={user !== null}
            value={userid}
            onChange={(event) => setUserid(event.currentTarget.value)}
            error={field === "userid" ? error?.message : undefined}
          />
          <PasswordInput
            label={user ? "New password" : "Password"}
            description={
              user ? "Leave empty to keep the current password." : undefined
            }
            required={user === null}
            value={password}
            onChange={(event) => setPassword(event.currentTarget.value)}
            error={field === "password" ? error?.message : undefined}
          />
          <Switch
            label="Administrator"
            checked={isAdmin}
            onChange={(event) => setIsAdmin(event.currentTarget.checked)}
          />
          <Switch
            label="Active (can log in)"
            checked={active}
            onChange={(event) => setActive(event.currentTarget.checked)}
          />
          {error && field && field !== "userid" && field !== "password" && (
            <Alert color="red">{error.message}</Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={saving}>
              {user ? "Save" : "Create user"}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
