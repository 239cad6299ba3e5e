import {
  AppShell,
  Burger,
  Button,
  Group,
  NavLink,
  Text,
  Title,
} from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import {
  IconDashboard,
  IconKey,
  IconListCheck,
  IconLogout,
  IconPackage,
  IconServer,
  IconUsers,
} from "@tabler/icons-react";
import { NavLink as RouterNavLink, Outlet } from "react-router";
import { ChangePasswordModal } from "../account/ChangePasswordModal";
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
  const [passwordOpened, passwordModal] = useDisclosure();
  const { logout, userid } = useAuth();
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
            {userid !== null && (
              <Text size="sm" c="dimmed" data-testid="signed-in-user">
                {userid}
              </Text>
            )}
            <Button
              variant="subtle"
              leftSection={<IconKey size={16} />}
              onClick={passwordModal.open}
            >
              Change password
            </Button>
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
      <ChangePasswordModal
        opened={passwordOpened}
        onClose={passwordModal.close}
      />
    </AppShell>
  );
}
