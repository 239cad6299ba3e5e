import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Grid,
  Group,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from "@mantine/core";
import { IconArrowLeft } from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { useApi } from "../api/ApiContext";
import { getHost, listHostEvents } from "../api/endpoints";
import type { Host } from "../api/types";
import { useCurrentUser } from "../auth/useCurrentUser";
import { ApprovalBadge, HostStatusBadge } from "../components/badges";
import { ErrorAlert, QueryState } from "../components/QueryState";
import { RelativeTime } from "../components/RelativeTime";
import { useNow } from "../components/useNow";
import { HostJobs } from "../jobs/HostJobs";
import { AvailabilityTimeline } from "./AvailabilityTimeline";
import { ConflictWarning, HostApprovalActions } from "./HostApprovalActions";
import { HostInventoryView, HostResources } from "./HostInventory";
import { HostUpdates } from "./HostUpdates";

function SystemInfo({ host }: { host: Host }) {
  const rows: [string, React.ReactNode][] = [
    ["FQDN", host.fqdn],
    ["Operating system", `${host.os_name} ${host.os_version}`],
    ["Kernel", host.kernel],
    ["Architecture", host.architecture],
    ["Agent version", host.agent_version],
    ["Machine ID", host.machine_id ?? "unknown"],
    ["Last seen", <RelativeTime key="seen" value={host.last_seen_at} />],
    [
      "Status since",
      <RelativeTime key="since" value={host.status_changed_at} />,
    ],
    ["Registered", <RelativeTime key="created" value={host.created_at} />],
    [
      "Approved",
      <RelativeTime
        key="approved"
        value={host.approved_at}
        empty="not approved"
      />,
    ],
    [
      "Updates checked",
      <RelativeTime key="checked" value={host.updates_checked_at} />,
    ],
  ];
  return (
    <Table withRowBorders={false} verticalSpacing={4}>
      <Table.Tbody>
        {rows.map(([label, value]) => (
          <Table.Tr key={label}>
            <Table.Th w={180}>{label}</Table.Th>
            <Table.Td>{value}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

export function HostDetailPage() {
  const api = useApi();
  const rawId = useParams().hostId;
  const hostId = Number(rawId);
  const now = useNow(60_000);
  const { isAdmin } = useCurrentUser();
  const host = useQuery({
    queryKey: ["host", hostId],
    queryFn: () => getHost(api, hostId),
    enabled: Number.isInteger(hostId),
  });
  const events = useQuery({
    queryKey: ["host", hostId, "events"],
    queryFn: () => listHostEvents(api, hostId),
    enabled: Number.isInteger(hostId),
  });

  if (!Number.isInteger(hostId)) {
    return (
      <ErrorAlert title="Invalid host" error={`"${rawId}" is not a host id.`} />
    );
  }

  return (
    <Stack>
      <Anchor component={Link} to="/hosts" size="sm">
        <Group gap={4}>
          <IconArrowLeft size={14} /> All hosts
        </Group>
      </Anchor>
      <QueryState query={host} label="the host">
        {host.data && (
          <Stack>
            <Group justify="space-between">
              <Group>
                <Title order={2}>{host.data.hostname}</Title>
                <HostStatusBadge status={host.data.status} />
                <ApprovalBadge approval={host.data.approval} />
                {host.data.reboot_required && (
                  <Badge color="grape" variant="light">
                    reboot required
                  </Badge>
                )}
              </Group>
              {isAdmin && <HostApprovalActions host={host.data} />}
            </Group>
            <ConflictWarning host={host.data} />
            {host.data.update_error && (
              <Alert color="red" title="The last update check failed">
                <Text size="sm" style={{ whiteSpace: "pre-wrap" }}>
                  {host.data.update_error}
                </Text>
              </Alert>
            )}
            <SimpleGrid cols={{ base: 1, lg: 2 }}>
              <Card withBorder>
                <Title order={4} mb="xs">
                  System
                </Title>
                <SystemInfo host={host.data} />
              </Card>
              <Card withBorder>
                <Title order={4} mb="xs">
                  Availability
                </Title>
                <QueryState query={events} label="availability history">
                  <AvailabilityTimeline events={events.data ?? []} now={now} />
                </QueryState>
              </Card>
            </SimpleGrid>
            <Grid>
              <Grid.Col span={{ base: 12, lg: 8 }}>
                <Card withBorder h="100%">
                  <Title order={4} mb="xs">
                    Inventory
                  </Title>
                  <HostInventoryView
                    inventory={host.data.inventory}
                    updatedAt={host.data.inventory_updated_at}
                  />
                </Card>
              </Grid.Col>
              <Grid.Col span={{ base: 12, lg: 4 }}>
                <Card withBorder h="100%">
                  <Title order={4} mb="xs">
                    Resources
                  </Title>
                  <HostResources
                    resources={host.data.resources}
                    at={host.data.resources_at}
                  />
                </Card>
              </Grid.Col>
            </Grid>
            <Card withBorder>
              <HostUpdates host={host.data} />
            </Card>
            <Card withBorder>
              <Title order={4} mb="xs">
                Jobs
              </Title>
              <HostJobs hostId={hostId} />
            </Card>
            {host.data.approval !== "approved" && (
              <Button variant="default" component={Link} to="/hosts">
                Back to hosts
              </Button>
            )}
          </Stack>
        )}
      </QueryState>
    </Stack>
  );
}
