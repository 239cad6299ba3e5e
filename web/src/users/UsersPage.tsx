import { Badge, Button, Group, Stack, Text, Title } from "@mantine/core";
import { modals } from "@mantine/modals";
import { IconPlus } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { DataTable } from "mantine-datatable";
import { useState } from "react";
import { useApi } from "../api/ApiContext";
import {
  createUser,
  deleteUser,
  listUsers,
  updateUser,
  type UserInput,
} from "../api/endpoints";
import type { User } from "../api/types";
import { useCurrentUser } from "../auth/useCurrentUser";
import { notifyError, notifySuccess } from "../components/notify";
import { ErrorAlert } from "../components/QueryState";
import { RelativeTime } from "../components/RelativeTime";
import { UserFormModal } from "./UserFormModal";

type Editing = { user: User | null } | null;

export function UsersPage() {
  const api = useApi();
  const queryClient = useQueryClient();
  // Only administrators may change users. Others see the list, which every user may read.
  const { isAdmin } = useCurrentUser();
  const users = useQuery({
    queryKey: ["users"],
    queryFn: () => listUsers(api),
  });
  const [editing, setEditing] = useState<Editing>(null);
  const refresh = () =>
    void queryClient.invalidateQueries({ queryKey: ["users"] });

  const setActive = useMutation({
    mutationFn: ({ user, active }: { user: User; active: boolean }) =>
      updateUser(api, user.id, { active }),
    onSuccess: (_, { user, active }) => {
      notifySuccess(`${user.userid} ${active ? "activated" : "deactivated"}.`);
      refresh();
    },
    onError: (error) => notifyError("Failed to change the user", error),
  });
  const remove = useMutation({
    mutationFn: (user: User) => deleteUser(api, user.id),
    onSuccess: (_, user) => {
      notifySuccess(`${user.userid} deleted.`);
      refresh();
    },
    onError: (error) => notifyError("Failed to delete the user", error),
  });

  const confirmDelete = (user: User) =>
    modals.openConfirmModal({
      title: `Delete ${user.userid}?`,
      children: (
        <Text size="sm">
          The user is removed and logged out everywhere. This cannot be undone.
        </Text>
      ),
      labels: { confirm: "Delete", cancel: "Cancel" },
      confirmProps: { color: "red" },
      onConfirm: () => remove.mutate(user),
    });

  const save = async (input: UserInput) => {
    if (editing?.user) {
      await updateUser(api, editing.user.id, input);
      notifySuccess(`${editing.user.userid} saved.`);
    } else {
      await createUser(api, input);
      notifySuccess(`${input.userid ?? "User"} created.`);
    }
    refresh();
  };

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Users</Title>
        {isAdmin && (
          <Button
            leftSection={<IconPlus size={16} />}
            onClick={() => setEditing({ user: null })}
          >
            New user
          </Button>
        )}
      </Group>
      {users.isError && (
        <ErrorAlert
          title="Failed to load users"
          error={users.error}
          onRetry={() => void users.refetch()}
        />
      )}
      <DataTable<User>
        withTableBorder
        minHeight={150}
        records={users.data ?? []}
        fetching={users.isFetching}
        noRecordsText="No users."
        columns={[
          { accessor: "userid", title: "User ID" },
          {
            accessor: "is_admin",
            title: "Role",
            render: (user) =>
              user.is_admin ? (
                <Badge>administrator</Badge>
              ) : (
                <Badge variant="outline">read-only</Badge>
              ),
          },
          {
            accessor: "active",
            render: (user) =>
              user.active ? (
                <Badge color="green" variant="light">
                  active
                </Badge>
              ) : (
                <Badge color="gray">inactive</Badge>
              ),
          },
          {
            accessor: "created_at",
            title: "Created",
            render: (user) => <RelativeTime value={user.created_at} />,
          },
          {
            accessor: "actions",
            title: "",
            textAlign: "right",
            hidden: !isAdmin,
            render: (user) => (
              <Group gap="xs" justify="flex-end" wrap="nowrap">
                <Button
                  size="xs"
                  variant="default"
                  onClick={() => setEditing({ user })}
                >
                  Edit
                </Button>
                <Button
                  size="xs"
                  variant="default"
                  loading={
                    setActive.isPending &&
                    setActive.variables?.user.id === user.id
                  }
                  onClick={() =>
                    setActive.mutate({ user, active: !user.active })
                  }
                >
                  {user.active ? "Deactivate" : "Activate"}
                </Button>
                <Button
                  size="xs"
                  color="red"
                  variant="light"
                  onClick={() => confirmDelete(user)}
                >
                  Delete
                </Button>
              </Group>
            ),
          },
        ]}
      />
      {editing && (
        <UserFormModal
          key={editing.user?.id ?? "new"}
          user={editing.user}
          opened
          onClose={() => setEditing(null)}
          onSubmit={save}
        />
      )}
    </Stack>
  );
}
