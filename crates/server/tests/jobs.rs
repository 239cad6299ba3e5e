#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Install jobs: creation and validation through the API, delivery over a real agent
//! connection, results at most once, and expiry.

mod support;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::agent::{AgentConnection, TestAgent};
use support::api::ApiClient;
use support::{BACKENDS, TestServer};
use sysmanage_protocol::{
    AgentMessage, ErrorCode, InstallJob, InstallRequest, JobFailure, JobFailureKind, JobResult,
    PackageOutcome, PackageResult, ServerMessage,
};
use sysmanage_server::clock::Clock;

const ENROLLMENT_KEY: &str = "jobs-test-key";

async fn start(backend: support::Backend, clock: Clock) -> TestServer {
    TestServer::start_with(backend, clock, |config| {
        config.security.enrollment_key = Some(ENROLLMENT_KEY.into());
        config.jobs.expiry_secs = 600;
    })
    .await
}

fn approved_agent(hostname: &str) -> TestAgent {
    let mut agent = TestAgent::new(hostname);
    agent.enrollment_key = Some(ENROLLMENT_KEY.into());
    agent
}

async fn wait_disconnected(server: &TestServer, host_id: i64) {
    let start = tokio::time::Instant::now();
    while server.state.agents.is_connected(host_id) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "connection stayed registered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_job_state(api: &mut ApiClient, job_id: i64, state: &str) -> Value {
    let start = tokio::time::Instant::now();
    loop {
        let job = api.get_ok(&format!("/jobs/{job_id}")).await;
        if job["state"] == state {
            return job;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "job {job_id} did not become {state}: {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn expect_install_job(connection: &mut AgentConnection) -> InstallJob {
    match connection.recv().await {
        ServerMessage::InstallJob(job) => job,
        other => panic!("expected an install job, got {other:?}"),
    }
}

fn curl_request() -> Value {
    json!({"packages": [{"manager": "apt", "name": "curl", "version": "8.1-1"}]})
}

fn curl_result(job_id: i64, success: bool) -> JobResult {
    JobResult {
        job_id,
        success,
        packages: vec![PackageResult {
            manager: "apt".into(),
            name: "curl".into(),
            requested_version: Some("8.1-1".into()),
            installed_version: Some("8.1-1".into()),
            outcome: PackageOutcome::Installed,
            message: None,
        }],
        output_tail: "Setting up curl (8.1-1) ...".into(),
        failure: None,
        reboot_required: true,
    }
}

#[tokio::test]
async fn queued_job_delivered_on_reconnect() {
    for backend in BACKENDS {
        let server = start(backend, Clock::system()).await;
        let mut api = ApiClient::admin(&server).await;
        let agent = approved_agent("web1");
        let connection = agent.connect(&server).await;
        let host_id = connection.host_id();
        connection.kill();
        wait_disconnected(&server, host_id).await;

        let (status, body) = api
            .post(&format!("/hosts/{host_id}/updates/install"), curl_request())
            .await;
        assert_eq!(status, 201, "{backend:?}: {body}");
        assert_eq!(body["state"], "queued");
        let job_id = body["job_id"].as_i64().unwrap();
        let job = api.get_ok(&format!("/jobs/{job_id}")).await;
        assert_eq!(job["packages"][0]["outcome"], "pending", "{job}");
        assert!(job["sent_at"].is_null());

        let mut connection = agent.connect(&server).await;
        let delivered = expect_install_job(&mut connection).await;
        assert_eq!(delivered.job_id, job_id);
        match &delivered.request {
            InstallRequest::Packages { packages } => {
                assert_eq!(packages[0].name, "curl");
                assert_eq!(packages[0].version, "8.1-1");
            }
            other => panic!("expected a package request, got {other:?}"),
        }
        let job = wait_for_job_state(&mut api, job_id, "sent").await;
        assert!(job["sent_at"].is_string(), "{job}");

        connection.send(AgentMessage::JobStarted { job_id }).await;
        let job = wait_for_job_state(&mut api, job_id, "running").await;
        assert!(job["started_at"].is_string(), "{job}");

        // Another host cannot report on this job.
        let mut other = approved_agent("web2").connect(&server).await;
        let id = other
            .send(AgentMessage::JobResult(curl_result(job_id, false)))
            .await;
        match other.recv().await {
            ServerMessage::Error(reply) => {
                assert_eq!(reply.code, ErrorCode::InvalidRequest);
                assert_eq!(reply.in_reply_to, Some(id));
            }
            other => panic!("expected invalid_request, got {other:?}"),
        }

        connection
            .send(AgentMessage::JobResult(curl_result(job_id, true)))
            .await;
        assert_eq!(
            connection.recv().await,
            ServerMessage::JobResultAck { job_id }
        );
        let job = api.get_ok(&format!("/jobs/{job_id}")).await;
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["packages"][0]["outcome"], "installed");
        assert_eq!(job["packages"][0]["installed_version"], "8.1-1");
        assert_eq!(job["output_tail"], "Setting up curl (8.1-1) ...");
        assert_eq!(job["reboot_required"], true);
        assert!(job["finished_at"].is_string());
        assert!(job["failure"].is_null());
        let host = api.get_ok(&format!("/hosts/{host_id}")).await;
        assert_eq!(host["reboot_required"], true);

        // A repeated result is acknowledged and changes nothing.
        let mut repeated = curl_result(job_id, false);
        repeated.output_tail = "something else".into();
        connection.send(AgentMessage::JobResult(repeated)).await;
        assert_eq!(
            connection.recv().await,
            ServerMessage::JobResultAck { job_id }
        );
        let job = api.get_ok(&format!("/jobs/{job_id}")).await;
        assert_eq!(job["state"], "succeeded");
        assert_eq!(job["output_tail"], "Setting up curl (8.1-1) ...");

        // A finished job is not delivered again.
        drop(connection);
        wait_disconnected(&server, host_id).await;
        let mut connection = agent.connect(&server).await;
        connection.heartbeat().await;

        let jobs = api.get_ok(&format!("/jobs?host_id={host_id}")).await;
        assert_eq!(jobs["total"], 1);
        assert_eq!(jobs["items"][0]["hostname"], "web1");
        let jobs = api.get_ok("/jobs?state=queued").await;
        assert_eq!(jobs["total"], 0);
    }
}

#[tokio::test]
async fn connected_host_gets_job_at_once() {
    for backend in BACKENDS {
        let server = start(backend, Clock::system()).await;
        let mut api = ApiClient::admin(&server).await;
        let agent = approved_agent("web1");
        let mut connection = agent.connect(&server).await;
        let host_id = connection.host_id();

        let (status, body) = api
            .post(
                &format!("/hosts/{host_id}/updates/install"),
                json!({"all": true}),
            )
            .await;
        assert_eq!(status, 201, "{backend:?}: {body}");
        assert_eq!(body["state"], "sent");
        let job_id = body["job_id"].as_i64().unwrap();
        let delivered = expect_install_job(&mut connection).await;
        assert_eq!(delivered.job_id, job_id);
        assert_eq!(delivered.request, InstallRequest::All);

        // A running job is delivered again after a reconnect, so that the agent can reply with
        // its stored result.
        connection.send(AgentMessage::JobStarted { job_id }).await;
        wait_for_job_state(&mut api, job_id, "running").await;
        drop(connection);
        wait_disconnected(&server, host_id).await;
        let mut connection = agent.connect(&server).await;
        assert_eq!(expect_install_job(&mut connection).await.job_id, job_id);

        // For `all`, the agent reports packages the request did not name.
        let result = JobResult {
            job_id,
            success: false,
            packages: vec![
                PackageResult {
                    manager: "apt".into(),
                    name: "openssl".into(),
                    requested_version: None,
                    installed_version: Some("3.1".into()),
                    outcome: PackageOutcome::Installed,
                    message: None,
                },
                PackageResult {
                    manager: "apt".into(),
                    name: "libc6".into(),
                    requested_version: None,
                    installed_version: None,
                    outcome: PackageOutcome::Failed,
                    message: Some("dependency problems".into()),
                },
            ],
            output_tail: "E: Sub-process /usr/bin/dpkg returned an error code (1)".into(),
            failure: Some(JobFailure {
                kind: JobFailureKind::CommandFailed,
                message: "apt-get exited with status 100".into(),
            }),
            reboot_required: false,
        };
        connection.send(AgentMessage::JobResult(result)).await;
        assert_eq!(
            connection.recv().await,
            ServerMessage::JobResultAck { job_id }
        );

        let job = api.get_ok(&format!("/jobs/{job_id}")).await;
        assert_eq!(job["state"], "failed", "{job}");
        assert_eq!(job["request"]["mode"], "all");
        assert_eq!(job["failure"]["kind"], "command_failed");
        assert_eq!(job["failure"]["message"], "apt-get exited with status 100");
        let packages = job["packages"].as_array().unwrap();
        assert_eq!(packages.len(), 2, "{job}");
        assert_eq!(packages[0]["name"], "openssl");
        assert_eq!(packages[0]["outcome"], "installed");
        assert_eq!(packages[1]["outcome"], "failed");
        assert_eq!(packages[1]["message"], "dependency problems");
    }
}

#[tokio::test]
async fn unstarted_job_expires() {
    for backend in BACKENDS {
        let clock = Clock::manual(1_800_000_000_000);
        let server = start(backend, clock.clone()).await;
        let mut api = ApiClient::admin(&server).await;
        let agent = approved_agent("web1");
        let connection = agent.connect(&server).await;
        let host_id = connection.host_id();
        connection.kill();
        wait_disconnected(&server, host_id).await;

        let (status, body) = api
            .post(&format!("/hosts/{host_id}/updates/install"), curl_request())
            .await;
        assert_eq!(status, 201, "{backend:?}: {body}");
        let job_id = body["job_id"].as_i64().unwrap();
        let job = api.get_ok(&format!("/jobs/{job_id}")).await;
        assert_eq!(job["expires_at"], "2027-01-15T08:10:00.000Z", "{job}");

        clock.advance(599_000);
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let job = api.get_ok(&format!("/jobs/{job_id}")).await;
        assert_eq!(job["state"], "queued", "{job}");

        clock.advance(1_000);
        let job = wait_for_job_state(&mut api, job_id, "expired").await;
        assert!(job["finished_at"].is_string(), "{job}");
        assert!(job["failure"]["message"].is_string(), "{job}");
        assert_eq!(job["packages"][0]["outcome"], "not_attempted");

        // An expired job is not delivered: the first message after Welcome is the heartbeat's
        // ack.
        let mut connection = agent.connect(&server).await;
        connection.heartbeat().await;
    }
}

#[tokio::test]
async fn install_validation_names_field() {
    for backend in BACKENDS {
        let server = start(backend, Clock::system()).await;
        let mut api = ApiClient::admin(&server).await;
        let connection = approved_agent("web1").connect(&server).await;
        let host_id = connection.host_id();
        let path = format!("/hosts/{host_id}/updates/install");

        let cases = [
            (
                json!({"packages": [{"manager": "apt", "name": "curl", "version": "--force"}]}),
                "packages[0].version",
            ),
            (
                json!({"packages": [{"manager": "apt", "name": "curl", "version": "1"},
                                 {"manager": "npm", "name": "x", "version": "1"}]}),
                "packages[1].manager",
            ),
            (
                json!({"packages": [{"manager": "apt", "name": "$(id)", "version": "1"}]}),
                "packages[0].name",
            ),
            (
                json!({"packages": [{"manager": "apt", "name": "curl"}]}),
                "packages[0].version",
            ),
            (json!({"packages": []}), "packages"),
            (json!({"all": true, "security_only": true}), "body"),
            (json!({}), "body"),
            (json!({"everything": true}), "everything"),
        ];
        for (body, field) in cases {
            let (status, reply) = api.post(&path, body.clone()).await;
            assert_eq!(status, 422, "{backend:?} {body}: {reply}");
            assert_eq!(reply["error"]["field"], field, "{body}: {reply}");
        }

        let pending = TestAgent::new("pending1").connect(&server).await;
        let (status, reply) = api
            .post(
                &format!("/hosts/{}/updates/install", pending.host_id()),
                json!({"security_only": true}),
            )
            .await;
        assert_eq!(status, 409, "{reply}");

        let (status, _) = api
            .post("/hosts/999999/updates/install", json!({"all": true}))
            .await;
        assert_eq!(status, 404);

        let jobs = api.get_ok("/jobs").await;
        assert_eq!(jobs["total"], 0, "{jobs}");
        let (status, reply) = api.get("/jobs?state=done").await;
        assert_eq!(status, 422);
        assert_eq!(reply["error"]["field"], "state");

        for (path, content_type, body) in [
            (path.as_str(), Some("application/json"), "{not json"),
            (path.as_str(), Some("application/json"), ""),
            (path.as_str(), None, r#"{"all": true}"#),
            (
                "/hosts/abc/updates/install",
                Some("application/json"),
                r#"{"all": true}"#,
            ),
        ] {
            let (status, response_type, reply) = api
                .request_raw(Method::POST, path, content_type, body)
                .await;
            assert_eq!(status, 400, "{backend:?} {path} {body:?}: {reply}");
            assert_eq!(response_type, "application/json", "{path} {body:?}");
            assert_eq!(reply["error"]["code"], "bad_request", "{path} {body:?}");
        }
        let (status, reply) = api.get("/jobs/abc").await;
        assert_eq!(status, 400, "{reply}");
        assert_eq!(reply["error"]["code"], "bad_request", "{reply}");
        for (query, field) in [
            ("stat=queued", "stat"),
            ("state=queued&state=failed", "state"),
            ("offset=18446744073709551615", "offset"),
        ] {
            let (status, reply) = api.get(&format!("/jobs?{query}")).await;
            assert_eq!(status, 422, "{backend:?} {query}: {reply}");
            assert_eq!(reply["error"]["field"], field, "{query}: {reply}");
        }
        api.get_ok("/jobs").await;
    }
}

#[tokio::test]
async fn bulk_jobs_reach_connected_and_queue_for_others() {
    for backend in BACKENDS {
        let server = start(backend, Clock::system()).await;
        let mut api = ApiClient::admin(&server).await;
        let online = approved_agent("bulk-online");
        let mut online_connection = online.connect(&server).await;
        let online_id = online_connection.host_id();
        let offline = approved_agent("bulk-offline");
        let offline_connection = offline.connect(&server).await;
        let offline_id = offline_connection.host_id();
        offline_connection.kill();
        wait_disconnected(&server, offline_id).await;
        let pending_id = TestAgent::new("bulk-pending")
            .connect(&server)
            .await
            .host_id();
        let unknown_id = offline_id + 1000;

        let mut body = curl_request();
        body["host_ids"] = json!([online_id, offline_id, pending_id, unknown_id]);
        let (status, created) = api.post("/jobs", body).await;
        assert_eq!(status, 201, "{backend:?}: {created}");
        let jobs = created["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), 2, "{backend:?}: {created}");
        assert_eq!(jobs[0]["host_id"], online_id);
        assert_eq!(jobs[0]["state"], "sent", "{backend:?}: {created}");
        assert_eq!(jobs[1]["host_id"], offline_id);
        assert_eq!(jobs[1]["state"], "queued", "{backend:?}: {created}");
        assert_eq!(
            created["skipped"],
            json!([
                {"host_id": pending_id, "reason": "not_approved"},
                {"host_id": unknown_id, "reason": "not_found"},
            ]),
            "{backend:?}"
        );
        let online_job = jobs[0]["job_id"].as_i64().unwrap();
        let offline_job = jobs[1]["job_id"].as_i64().unwrap();
        assert_ne!(online_job, offline_job);

        let delivered = expect_install_job(&mut online_connection).await;
        assert_eq!(delivered.job_id, online_job);
        assert!(
            matches!(&delivered.request, InstallRequest::Packages { packages }
                if packages.len() == 1 && packages[0].name == "curl"),
            "{delivered:?}"
        );
        let job = wait_for_job_state(&mut api, online_job, "sent").await;
        assert_eq!(job["packages"][0]["requested_version"], "8.1-1", "{job}");
        let job = api.get_ok(&format!("/jobs/{offline_job}")).await;
        assert_eq!(job["state"], "queued", "{backend:?}: {job}");
        assert_eq!(job["packages"][0]["name"], "curl", "{job}");

        let mut offline_connection = offline.connect(&server).await;
        assert_eq!(
            expect_install_job(&mut offline_connection).await.job_id,
            offline_job
        );
        wait_for_job_state(&mut api, offline_job, "sent").await;

        let jobs = api.get_ok(&format!("/jobs?host_id={pending_id}")).await;
        assert_eq!(jobs["total"], 0, "{backend:?}: {jobs}");
    }
}

#[tokio::test]
async fn bulk_jobs_reject_bad_lists() {
    for backend in BACKENDS {
        let server = start(backend, Clock::system()).await;
        let mut api = ApiClient::admin(&server).await;
        let host_id = approved_agent("bulk-one").connect(&server).await.host_id();
        let pending_id = TestAgent::new("bulk-waiting")
            .connect(&server)
            .await
            .host_id();

        for (body, field) in [
            (json!({"all": true}), "host_ids"),
            (json!({"host_ids": [], "all": true}), "host_ids"),
            (
                json!({"host_ids": [host_id, host_id], "all": true}),
                "host_ids[1]",
            ),
            (
                json!({"host_ids": [host_id, 0], "all": true}),
                "host_ids[1]",
            ),
            (json!({"host_ids": [-3], "all": true}), "host_ids[0]"),
            (json!({"host_ids": [host_id]}), "body"),
            (
                json!({"host_ids": [host_id], "packages": [{"manager": "apt", "name": "-x", "version": "1"}]}),
                "packages[0].name",
            ),
        ] {
            let (status, reply) = api.post("/jobs", body.clone()).await;
            assert_eq!(status, 422, "{backend:?} {body}: {reply}");
            assert_eq!(
                reply["error"]["field"], field,
                "{backend:?} {body}: {reply}"
            );
        }

        let (status, reply) = api
            .post(
                "/jobs",
                json!({"host_ids": [pending_id], "security_only": true}),
            )
            .await;
        assert_eq!(status, 409, "{backend:?}: {reply}");
        let jobs = api.get_ok("/jobs").await;
        assert_eq!(
            jobs["total"], 0,
            "{backend:?}: nothing is created on an error: {jobs}"
        );
    }
}

#[tokio::test]
async fn install_validation_per_manager() {
    for backend in BACKENDS {
        let server = start(backend, Clock::system()).await;
        let mut api = ApiClient::admin(&server).await;
        let mut connection = approved_agent("desk1").connect(&server).await;
        let path = format!("/hosts/{}/updates/install", connection.host_id());

        let winget_id = r"ARP\Machine\X64\{3F2504E0-4F89-11D3-9A0C-0305E82C3301}";
        let label = "macOS Sonoma 14.2-23C64";
        let rapid = "Background Security Improvement 13.6.1 (a)";
        let body = json!({"packages": [
            {"manager": "winget", "name": winget_id, "version": "3.2.0"},
            {"manager": "softwareupdate", "name": label, "version": "14.2"},
            {"manager": "softwareupdate", "name": rapid, "version": "13.6.1 (a)"},
        ]});
        let (status, reply) = api.post(&path, body).await;
        assert_eq!(status, 201, "{backend:?}: {reply}");
        let delivered = expect_install_job(&mut connection).await;
        let InstallRequest::Packages { packages } = delivered.request else {
            panic!("expected a package list, got {:?}", delivered.request);
        };
        let names: Vec<&str> = packages.iter().map(|spec| spec.name.as_str()).collect();
        assert_eq!(names, [winget_id, label, rapid]);
        assert_eq!(packages[2].version, "13.6.1 (a)");

        let cases = [
            (
                json!({"manager": "winget", "name": "-x", "version": "1.0"}),
                "name",
            ),
            (
                json!({"manager": "winget", "name": "Git&Git", "version": "1.0"}),
                "name",
            ),
            (
                json!({"manager": "winget", "name": "Git.Git", "version": "1 0"}),
                "version",
            ),
            (
                json!({"manager": "softwareupdate", "name": "-x", "version": "14.2"}),
                "name",
            ),
            (
                json!({"manager": "softwareupdate", "name": "macOS\nSonoma", "version": "14.2"}),
                "name",
            ),
            (
                json!({"manager": "softwareupdate", "name": label, "version": "14.2\n"}),
                "version",
            ),
            (
                json!({"manager": "softwareupdate", "name": label, "version": "-x"}),
                "version",
            ),
            (
                json!({"manager": "apt", "name": label, "version": "14.2"}),
                "name",
            ),
            (
                json!({"manager": "apt", "name": winget_id, "version": "1.0"}),
                "name",
            ),
        ];
        for (package, field) in cases {
            let body = json!({"packages": [package]});
            let (status, reply) = api.post(&path, body.clone()).await;
            assert_eq!(status, 422, "{backend:?} {body}: {reply}");
            assert_eq!(
                reply["error"]["field"],
                format!("packages[0].{field}"),
                "{body}: {reply}"
            );
        }
    }
}

fn packages_request(packages: &[(&str, &str)]) -> Value {
    let packages: Vec<Value> = packages
        .iter()
        .map(|(name, version)| json!({"manager": "apt", "name": name, "version": version}))
        .collect();
    json!({ "packages": packages })
}

/// Posts `body` to `path` and returns the id of the created job, expecting 201.
async fn create_ok(api: &mut ApiClient, path: &str, body: Value) -> i64 {
    let (status, reply) = api.post(path, body.clone()).await;
    assert_eq!(status, 201, "{path} {body}: {reply}");
    reply["job_id"].as_i64().unwrap()
}

/// Posts `body` to `path`, expects a 409 for a duplicate and returns the job id it names.
async fn create_duplicate(api: &mut ApiClient, path: &str, body: Value) -> i64 {
    let (status, reply) = api.post(path, body.clone()).await;
    assert_eq!(status, 409, "{path} {body}: {reply}");
    assert_eq!(reply["error"]["code"], "conflict", "{reply}");
    let job_id = reply["error"]["job_id"].as_i64().unwrap();
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("job {job_id}")), "{message}");
    job_id
}

#[tokio::test]
async fn identical_job_rejected_until_finished() {
    for backend in BACKENDS {
        let server = start(backend, Clock::system()).await;
        let mut api = ApiClient::admin(&server).await;
        let mut connection = approved_agent("web1").connect(&server).await;
        let host_id = connection.host_id();
        let other_id = approved_agent("web2").connect(&server).await.host_id();
        let path = format!("/hosts/{host_id}/updates/install");

        let all_job = create_ok(&mut api, &path, json!({"all": true})).await;
        assert_eq!(expect_install_job(&mut connection).await.job_id, all_job);
        let existing = create_duplicate(&mut api, &path, json!({"all": true})).await;
        assert_eq!(existing, all_job, "{backend:?}: a sent job counts");
        connection
            .send(AgentMessage::JobStarted { job_id: all_job })
            .await;
        wait_for_job_state(&mut api, all_job, "running").await;
        let existing = create_duplicate(&mut api, &path, json!({"all": true})).await;
        assert_eq!(existing, all_job, "{backend:?}: a running job counts");

        // Another selection, another package list or another version is another job.
        let curl_vim = create_ok(
            &mut api,
            &path,
            packages_request(&[("curl", "8.1-1"), ("vim", "9.0")]),
        )
        .await;
        expect_install_job(&mut connection).await;
        for different in [
            json!({"security_only": true}),
            packages_request(&[("curl", "8.1-1")]),
            packages_request(&[("curl", "8.1-1"), ("vim", "9.1")]),
        ] {
            create_ok(&mut api, &path, different).await;
            expect_install_job(&mut connection).await;
        }
        // The same packages in another order are the same job.
        let existing = create_duplicate(
            &mut api,
            &path,
            packages_request(&[("vim", "9.0"), ("curl", "8.1-1")]),
        )
        .await;
        assert_eq!(existing, curl_vim, "{backend:?}");

        // Once the job has finished, the same request is accepted again.
        connection
            .send(AgentMessage::JobResult(JobResult {
                job_id: all_job,
                success: true,
                packages: Vec::new(),
                output_tail: String::new(),
                failure: None,
                reboot_required: false,
            }))
            .await;
        assert_eq!(
            connection.recv().await,
            ServerMessage::JobResultAck { job_id: all_job }
        );
        let second_all_job = create_ok(&mut api, &path, json!({"all": true})).await;
        assert_ne!(second_all_job, all_job);
        assert_eq!(
            expect_install_job(&mut connection).await.job_id,
            second_all_job
        );

        // In a bulk request, the host with the identical job is skipped and names it.
        let bulk = json!({"host_ids": [host_id, other_id], "all": true});
        let (status, created) = api.post("/jobs", bulk.clone()).await;
        assert_eq!(status, 201, "{backend:?}: {created}");
        let jobs = created["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), 1, "{backend:?}: {created}");
        assert_eq!(jobs[0]["host_id"], other_id);
        let other_job = jobs[0]["job_id"].as_i64().unwrap();
        assert_eq!(
            created["skipped"],
            json!([{"host_id": host_id, "reason": "duplicate", "job_id": second_all_job}]),
            "{backend:?}"
        );

        // When every host is skipped, the request fails and names the jobs.
        let (status, reply) = api.post("/jobs", bulk).await;
        assert_eq!(status, 409, "{backend:?}: {reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("(jobs {second_all_job}, {other_job})")),
            "{backend:?}: {message}"
        );

        let jobs = api.get_ok(&format!("/jobs?host_id={host_id}")).await;
        assert_eq!(jobs["total"], 6, "{backend:?}: {jobs}");
        let jobs = api.get_ok(&format!("/jobs?host_id={other_id}")).await;
        assert_eq!(jobs["total"], 1, "{backend:?}: {jobs}");
    }
}

/// Number of identical requests sent at the same time.
const PARALLEL_REQUESTS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_identical_jobs_create_one() {
    for backend in BACKENDS {
        let server = start(backend, Clock::system()).await;
        let first_id = approved_agent("web1").connect(&server).await.host_id();
        let second_id = approved_agent("web2").connect(&server).await.host_id();
        // Tokens work once, so each parallel request needs a session of its own.
        let mut clients = Vec::with_capacity(PARALLEL_REQUESTS);
        for _ in 0..PARALLEL_REQUESTS {
            clients.push(ApiClient::admin(&server).await);
        }

        let path = format!("/hosts/{first_id}/updates/install");
        let replies = futures_util::future::join_all(
            clients
                .iter_mut()
                .map(|client| client.post(&path, json!({"all": true}))),
        )
        .await;
        let created: Vec<i64> = replies
            .iter()
            .filter(|(status, _)| *status == 201)
            .map(|(_, reply)| reply["job_id"].as_i64().unwrap())
            .collect();
        assert_eq!(created.len(), 1, "{backend:?}: {replies:?}");
        for (status, reply) in &replies {
            if *status != 201 {
                assert_eq!(*status, 409, "{backend:?}: {reply}");
                assert_eq!(reply["error"]["job_id"], created[0], "{backend:?}: {reply}");
            }
        }

        // Half of the requests list the hosts in the other order.
        let replies = futures_util::future::join_all(clients.iter_mut().enumerate().map(
            |(index, client)| {
                let host_ids = if index % 2 == 0 {
                    [first_id, second_id]
                } else {
                    [second_id, first_id]
                };
                client.post(
                    "/jobs",
                    json!({"host_ids": host_ids, "security_only": true}),
                )
            },
        ))
        .await;
        let mut hosts_with_job = Vec::new();
        for (status, reply) in &replies {
            match status.as_u16() {
                201 => hosts_with_job.extend(
                    reply["jobs"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|job| job["host_id"].as_i64().unwrap()),
                ),
                409 => {}
                _ => panic!("{backend:?}: unexpected reply {status}: {reply}"),
            }
        }
        hosts_with_job.sort_unstable();
        assert_eq!(hosts_with_job, [first_id, second_id], "{backend:?}");

        let mut api = ApiClient::admin(&server).await;
        let jobs = api.get_ok("/jobs").await;
        assert_eq!(jobs["total"], 3, "{backend:?}: {jobs}");
    }
}
