CREATE INDEX "idx_worker_jobs_type_completed" ON "worker_jobs" USING btree ("type","completed_at","id");--> statement-breakpoint
DROP INDEX "idx_worker_jobs_type";