//! The draw loop, generic over the backend so tests drive the real app on a `TestBackend`.

use std::io;

use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::app::{update, App};
use super::message::{Action, Command};

/// Draws, waits for an action, updates, hands the resulting commands to the shell; until the app
/// wants to quit or every action sender is gone.
pub async fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    actions: &mut UnboundedReceiver<Action>,
    commands: &UnboundedSender<Command>,
) -> io::Result<()> {
    dispatch(app, Action::Started, commands);
    loop {
        terminal.draw(|frame| frame.render_widget(&*app, frame.area()))?;
        if app.should_quit {
            return Ok(());
        }
        let Some(action) = actions.recv().await else {
            return Ok(());
        };
        dispatch(app, action, commands);
        // Apply whatever else is queued (upload progress, ticks) before the next frame.
        while !app.should_quit {
            let Ok(action) = actions.try_recv() else {
                break;
            };
            dispatch(app, action, commands);
        }
    }
}

fn dispatch(app: &mut App, action: Action, commands: &UnboundedSender<Command>) {
    for command in update(app, action) {
        // A closed shell only happens on shutdown; there is nobody left to tell.
        if commands.send(command).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::api::FleetSnapshot;
    use fota_shared::api::fleet::DeviceList;
    use ratatui::backend::TestBackend;
    use tokio::sync::mpsc::unbounded_channel;

    use super::*;
    use crate::fixtures::*;

    #[tokio::test]
    async fn the_loop_runs_the_real_app_until_q() {
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        let mut app = App::new("http://127.0.0.1:8787", Some("demo".into()));
        let (action_tx, mut actions) = unbounded_channel();
        let (command_tx, mut commands) = unbounded_channel();
        let snapshot = FleetSnapshot {
            summary: fleet_summary(),
            plans: plans(),
        };
        let page = DeviceList {
            devices: devices(),
            next_cursor: None,
        };
        for action in [
            Action::FleetLoaded(Ok(snapshot)),
            ch('2'),
            Action::from(DeviceAnswer::PageLoaded {
                generation: 0,
                cursor: None,
                result: Ok(page),
            }),
            ch('j'),
            ch('q'),
            // Never reached: the loop stops at q.
            ch('3'),
        ] {
            action_tx.send(action).unwrap();
        }
        run(&mut terminal, &mut app, &mut actions, &command_tx)
            .await
            .unwrap();

        let mut sent = Vec::new();
        while let Ok(command) = commands.try_recv() {
            sent.push(command);
        }
        assert_eq!(sent.len(), 8, "{sent:?}");
        assert!(matches!(&sent[0], Command::LoadFleet { project } if project == "demo"));
        assert!(
            matches!(&sent[1], Command::Screen(ScreenCommand::Fleet(LoadActivity { project, hours: 24 })) if project == "demo")
        );
        // The events feed starts with the app, whatever tab is shown.
        assert!(
            matches!(&sent[2], Command::Screen(crate::dashboard::screens::ScreenCommand::Events(crate::dashboard::screens::events::FollowEvents { project, after: None, .. })) if project == "demo")
        );
        // The project's record, for the header's device policy.
        assert!(matches!(&sent[3], Command::LoadProject { project } if project == "demo"));
        // The fleet's plans bring their rollout status.
        assert!(
            matches!(&sent[4], Command::LoadPlanStatus { firmware_name, .. } if firmware_name == "air780")
        );
        assert!(
            matches!(&sent[5], Command::LoadPlanStatus { firmware_name, .. } if firmware_name == "esp32")
        );
        assert!(matches!(
            &sent[6],
            Command::Screen(ScreenCommand::Devices(DeviceCall::LoadPage { .. }))
        ));
        assert!(
            matches!(&sent[7], Command::Screen(ScreenCommand::Devices(DeviceCall::LoadJobs { project })) if project == "demo")
        );
        assert_eq!(app.devices.list.selected, 1);
        assert!(app.should_quit);
        insta::assert_snapshot!(terminal.backend());
    }
}
