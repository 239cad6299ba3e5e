import { Navigate, Route, Routes } from "react-router";
import { LoginPage } from "./auth/LoginPage";
import { RequireAuth } from "./auth/RequireAuth";
import { DashboardPage } from "./dashboard/DashboardPage";
import { HostDetailPage } from "./hosts/HostDetailPage";
import { HostsPage } from "./hosts/HostsPage";
import { JobDetailPage } from "./jobs/JobDetailPage";
import { JobsPage } from "./jobs/JobsPage";
import { AppLayout } from "./layout/AppLayout";
import { UpdatesPage } from "./updates/UpdatesPage";
import { UsersPage } from "./users/UsersPage";

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireAuth>
            <AppLayout />
          </RequireAuth>
        }
      >
        <Route index element={<DashboardPage />} />
        <Route path="hosts" element={<HostsPage />} />
        <Route path="hosts/:hostId" element={<HostDetailPage />} />
        <Route path="updates" element={<UpdatesPage />} />
        <Route path="jobs" element={<JobsPage />} />
        <Route path="jobs/:jobId" element={<JobDetailPage />} />
        <Route path="users" element={<UsersPage />} />
      </Route>
      <Route path="*" element={<Navigate to="/" replace />} />
    </Routes>
  );
}
