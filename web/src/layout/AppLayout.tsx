import { AppShell, Burger, Button, Group, NavLink, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import {
  IconDashboard,
  IconListCheck,
  IconLogout,
  IconPackage,
  IconServer,
  IconUsers,
} from "@tabler/icons-react";
import { NavLink as RouterNavLink, Outlet } from "react-router";
import { useAuth } from "../auth/useAuth";
import { LiveIndicator } from "../events/LiveIndicator";
import { useLiveEvents } from "../events/useLiveEvents";

const NAVIGATION = [
  { to: "/", label: "Dashboard", icon: IconDashboard, end: true },
  { to: "/hosts", label: "Hosts", icon: IconServer, end: false },
  { to: "/updates", label: "Updates", icon: IconPackage, end: false },
  { to: "/jobs", label: "Jobs", icon: IconListCheck, end: false },
  { to: "/users", label: "Users", icon: IconUsers, end: false },
];

export function AppLayout() {
  const [opened, { toggle, close }] = useDisclosure();
  const { logout } = useAuth();
  const liveMode = useLiveEvents();

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 220, breakpoint: "sm", collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group>
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label="Toggle navigation"
            />
            <Title order={3}>SysManage</Title>
          </Group>
          <Group>
            <LiveIndicator mode={liveMode} />
            <Button
              variant="subtle"
              leftSection={<IconLogout size={16} />}
              onClick={() => void logout()}
            >
              Log out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main navigation">
        {NAVIGATION.map(({ to, label, icon: Icon, end }) => (
          <NavLink
            key={to}
            component={RouterNavLink}
            to={to}
            end={end}
            label={label}
            leftSection={<Icon size={18} />}
            onClick={close}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
