import { useEffect, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { useApi } from "../api/ApiContext";
import { startLiveEvents, type LiveMode } from "./liveEvents";

/** Keeps a live event stream (or polling) open while the calling component is mounted. */
export function useLiveEvents(): LiveMode {
  const api = useApi();
  const queryClient = useQueryClient();
  const [mode, setMode] = useState<LiveMode>("connecting");
  useEffect(
    () => startLiveEvents({ api, queryClient, onModeChange: setMode }),
    [api, queryClient],
  );
  return mode;
}
