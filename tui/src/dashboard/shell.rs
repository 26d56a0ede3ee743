//! The imperative shell: runs each `Command` on tokio with the API client and reports the result
//! back as an `Action`. It keeps no state of its own.
//!
//! Errors in its tasks have one way out: each becomes the `Failure` of the action it answers
//! (`failure` for the API's, `Failure::local` for reading a file or a failed task), which the
//! app shows in place and in the status line. Nothing is printed: stderr is the dashboard's
//! screen.

use std::future::Future;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::message::{Action, Command, Progress};
use super::remote::Failure;
use crate::api::{ApiClient, ApiError};

/// Runs commands as they come, each in its own task so a slow upload never holds up a refresh.
/// A task whose answer nobody can take any more (the app quit) stops where it is: the events
/// feed's long poll does not outlive the dashboard.
pub fn spawn(
    api: ApiClient,
    mut commands: UnboundedReceiver<Command>,
    actions: UnboundedSender<Action>,
) {
    tokio::spawn(async move {
        while let Some(command) = commands.recv().await {
            let (api, actions) = (api.clone(), actions.clone());
            tokio::spawn(async move {
                if let Some(action) = unless_gone(&actions, execute(&api, command, &actions)).await
                {
                    deliver(&actions, action);
                }
            });
        }
    });
}

/// Runs `work` until it ends, or until the app's end of `actions` is gone (then `None`).
async fn unless_gone<F: Future>(actions: &UnboundedSender<Action>, work: F) -> Option<F::Output> {
    tokio::select! {
        output = work => Some(output),
        () = actions.closed() => None,
    }
}

pub fn failure(err: ApiError) -> Failure {
    Failure {
        connection: err.is_connection_problem(),
        message: err.to_string(),
    }
}

impl Failure {
    /// A failure on this machine (a file, a task), not the server's.
    pub fn local(message: String) -> Failure {
        Failure {
            message,
            connection: false,
        }
    }
}

/// Hands an action to the app. The app's end is gone only when it quits, and then nobody is
/// left to tell, so an action sent too late is dropped here, in one place.
fn deliver(actions: &UnboundedSender<Action>, action: Action) {
    actions.send(action).ok();
}

/// Runs one command: a screen's own, or one of the app's loads and changes (the project's
/// record, the fleet, a plan's status, a check-now asked by the Devices and Rollouts tabs).
async fn execute(api: &ApiClient, command: Command, actions: &UnboundedSender<Action>) -> Action {
    match command {
        Command::Screen(command) => {
            let progress = Progress(actions.clone());
            Action::Screen(command.run(api, &progress).await)
        }
        Command::LoadProjects => Action::ProjectsLoaded(
            api.projects()
                .await
                .map(|list| list.projects)
                .map_err(failure),
        ),
        Command::LoadProject { project } => Action::ProjectLoaded {
            result: api.project(&project).await.map_err(failure),
            key: project,
        },
        Command::LoadFleet { project } => {
            Action::FleetLoaded(api.fleet_snapshot(&project).await.map_err(failure))
        }
        Command::LoadPlanStatus {
            project,
            firmware_name,
        } => Action::PlanStatusLoaded {
            result: api
                .plan_status(&project, &firmware_name)
                .await
                .map_err(failure),
            firmware_name,
        },
        Command::PutProject { project, spec } => Action::ProjectSaved {
            result: api.put_project(&project, &spec).await.map_err(failure),
            key: project,
        },
        Command::CheckNow { project, target } => Action::CheckedNow {
            result: api.check_now(&project, &target).await.map_err(failure),
            target,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::screens::events::{EventsFollowed, FollowEvents};
    use crate::dashboard::screens::ScreenAnswer;

    /// Once the app is gone, a call still out (a long poll holds its answer up to 25 s) is
    /// dropped rather than waited for.
    #[tokio::test]
    async fn work_stops_when_the_app_is_gone() {
        let (actions, receiver) = tokio::sync::mpsc::unbounded_channel::<Action>();
        assert_eq!(unless_gone(&actions, async { 7 }).await, Some(7));
        drop(receiver);
        let forever = std::future::pending::<()>();
        assert_eq!(unless_gone(&actions, forever).await, None);
    }

    /// A server on a thread that answers each of `answers` to one request, in turn, and hands
    /// back each request's first line.
    fn serve(answers: Vec<&'static str>) -> (String, std::sync::mpsc::Receiver<String>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (seen, requests) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for (stream, body) in listener.incoming().zip(answers) {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 8192];
                let n = stream.read(&mut buf).unwrap();
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                seen.send(request.lines().next().unwrap_or_default().to_string())
                    .unwrap();
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
        });
        (url, requests)
    }

    /// The feed's calls as the server sees them: first where the log stands (no wait), then
    /// what comes after the cursor, held up to 25 s.
    #[tokio::test]
    async fn the_feed_asks_where_the_log_stands_then_for_what_comes_after() {
        let (url, requests) = serve(vec![
            r#"{"events":[],"cursor":"0","latest":41}"#,
            r#"{"events":[{"id":42,"type":"device.banned","project_key":"demo","at":"2026-12-03T08:00:00Z","data":{}}],"cursor":"42","latest":42}"#,
        ]);
        let api = ApiClient::new(&url, Some("t".repeat(32)));
        let (actions, _app) = tokio::sync::mpsc::unbounded_channel();
        let call = |after| {
            Command::from(FollowEvents {
                project: "demo".into(),
                generation: 3,
                after,
            })
        };
        let first = execute(&api, call(None), &actions).await;
        assert!(
            matches!(&first, Action::Screen(ScreenAnswer::Events(EventsFollowed { call: FollowEvents { generation: 3, after: None, .. }, result: Ok(page) })) if page.latest == 41),
            "{first:?}"
        );
        let next = execute(&api, call(Some(41)), &actions).await;
        assert!(
            matches!(&next, Action::Screen(ScreenAnswer::Events(EventsFollowed { call: FollowEvents { after: Some(41), .. }, result: Ok(page) })) if page.events[0].id == 42),
            "{next:?}"
        );
        assert_eq!(
            requests.recv().unwrap(),
            "GET /admin/v1/projects/demo/events HTTP/1.1"
        );
        assert_eq!(
            requests.recv().unwrap(),
            "GET /admin/v1/projects/demo/events?after=41&wait=25 HTTP/1.1"
        );
    }
}
