import { notifications } from "@mantine/notifications";

export function notifySuccess(message: string) {
  notifications.show({ color: "green", message });
}

export function notifyError(title: string, error: unknown) {
  const message = error instanceof Error ? error.message : String(error);
  notifications.show({ color: "red", title, message, autoClose: 10_000 });
}
