CREATE INDEX IF NOT EXISTS "idx_worker_jobs_type_completed" ON "worker_jobs" USING btree ("type","completed_at","id");--> statement-breakpoint
DROP INDEX IF EXISTS "idx_worker_jobs_type";
