import { useState, type FormEvent } from "react";
import {
  Alert,
  Button,
  Center,
  Paper,
  PasswordInput,
  Stack,
  TextInput,
  Title,
} from "@mantine/core";
import { IconInfoCircle } from "@tabler/icons-react";
import { useNavigate, useSearchParams } from "react-router";
import { ApiError } from "../api/client";
import { NEXT_PARAMETER, routerPathFromNext } from "./nextPath";
import { useAuth } from "./useAuth";

export function LoginPage() {
  const { login, message } = useAuth();
  const navigate = useNavigate();
  const [searchParams] = useSearchParams();
  const [userid, setUserid] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);

  const next = routerPathFromNext(searchParams.get(NEXT_PARAMETER));

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSubmitting(true);
    setError(null);
    try {
      await login(userid.trim(), password);
      navigate(next, { replace: true });
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : "Login failed.");
    } finally {
      setSubmitting(false);
    }
  }

  return (
    <Center mih="100vh" bg="gray.0">
      <Paper withBorder shadow="sm" p="xl" w={380} radius="md">
        <form onSubmit={submit} aria-label="Log in">
          <Stack>
            <Title order={2}>SysManage</Title>
            {message && !error && (
              <Alert
                color="blue"
                icon={<IconInfoCircle />}
                data-testid="session-message"
              >
                {message}
              </Alert>
            )}
            {error && (
              <Alert color="red" role="alert">
                {error}
              </Alert>
            )}
            <TextInput
              label="User ID"
              autoComplete="username"
              required
              autoFocus
              value={userid}
              onChange={(event) => setUserid(event.currentTarget.value)}
            />
            <PasswordInput
              label="Password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(event) => setPassword(event.currentTarget.value)}
            />
            <Button
              type="submit"
              loading={submitting}
              disabled={userid.trim() === "" || password === ""}
            >
              Log in
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
