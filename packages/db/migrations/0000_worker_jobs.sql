CREATE TABLE "worker_jobs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"execution_id" text NOT NULL,
	"job_id" text NOT NULL,
	"type" text NOT NULL,
	"user_id" text,
	"data" jsonb,
	"result" jsonb,
	"error" jsonb,
	"status" text NOT NULL,
	"attempt" integer NOT NULL,
	"will_retry" boolean DEFAULT false NOT NULL,
	"worker" text NOT NULL,
	"queued_at" timestamp with time zone NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"completed_at" timestamp with time zone NOT NULL,
	"duration_ms" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "worker_jobs_execution_id_unique" UNIQUE("execution_id"),
	CONSTRAINT "worker_jobs_status_check" CHECK ("worker_jobs"."status" in ('completed', 'failed'))
);
--> statement-breakpoint
CREATE INDEX "idx_worker_jobs_type" ON "worker_jobs" USING btree ("type");--> statement-breakpoint
CREATE INDEX "idx_worker_jobs_status" ON "worker_jobs" USING btree ("status");--> statement-breakpoint
CREATE INDEX "idx_worker_jobs_created" ON "worker_jobs" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "idx_worker_jobs_job_id" ON "worker_jobs" USING btree ("job_id");--> statement-breakpoint
CREATE INDEX "idx_worker_jobs_completed" ON "worker_jobs" USING btree ("completed_at","id");