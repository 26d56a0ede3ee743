-- A rollout is spread over `shards` coordinator objects (fixed for its life); retention needs the
-- number to reach each one when it drops a finished rollout's Durable Object storage, and marks
-- the rollout `purged` once it has, so no later run calls the objects again.
ALTER TABLE rollouts ADD COLUMN shards INTEGER NOT NULL DEFAULT 1;
ALTER TABLE rollouts ADD COLUMN purged INTEGER NOT NULL DEFAULT 0;
