import { Alert, Button, Center, Loader, Stack, Text } from "@mantine/core";
import { IconAlertTriangle } from "@tabler/icons-react";
import type { ReactNode } from "react";

interface QueryLike {
  isPending: boolean;
  isError: boolean;
  error: unknown;
  refetch: () => unknown;
}

/** Renders a loader while `query` loads, an error with a retry button if it failed, else children. */
export function QueryState({
  query,
  children,
  label,
}: {
  query: QueryLike;
  children: ReactNode;
  label: string;
}) {
  if (query.isPending) {
    return (
      <Center py="xl">
        <Stack align="center" gap="xs">
          <Loader />
          <Text c="dimmed" size="sm">
            Loading {label}…
          </Text>
        </Stack>
      </Center>
    );
  }
  if (query.isError) {
    return (
      <ErrorAlert
        title={`Failed to load ${label}`}
        error={query.error}
        onRetry={() => query.refetch()}
      />
    );
  }
  return children;
}

export function ErrorAlert({
  title,
  error,
  onRetry,
}: {
  title: string;
  error: unknown;
  onRetry?: () => void;
}) {
  const message = error instanceof Error ? error.message : String(error);
  return (
    <Alert color="red" title={title} icon={<IconAlertTriangle />} role="alert">
      <Stack gap="xs" align="flex-start">
        <Text size="sm">{message}</Text>
        {onRetry && (
          <Button size="xs" variant="light" color="red" onClick={onRetry}>
            Retry
          </Button>
        )}
      </Stack>
    </Alert>
  );
}

/** Message shown in a table or list with no rows. */
export function EmptyState({ children }: { children: ReactNode }) {
  return (
    <Text c="dimmed" ta="center" py="lg">
      {children}
    </Text>
  );
}
