WITH "spine" AS (
  SELECT
    *
  FROM "entity_df"
), "spine_keys__user_id" AS (
  SELECT DISTINCT
    "spine"."user_id",
    CASE
      WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
      OR "spine"."event_timestamp" IS NULL
      THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("spine"."event_timestamp") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END AS "__sqlfeat_ts"
  FROM "spine"
), "user_click_stats__source" AS (
  SELECT
    "src"."user_id" AS "user_id",
    CASE
      WHEN NOT TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."event_time" IS NULL
      THEN TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."event_time") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END AS "__sqlfeat_event_ts",
    CASE
      WHEN NOT TRY_CAST("src"."created" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."created" IS NULL
      THEN TRY_CAST("src"."created" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."created") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END AS "__sqlfeat_created_ts",
    "src"."click_id" AS "__sqlfeat_value_click_id",
    "src"."dwell_seconds" AS "__sqlfeat_value_dwell_seconds",
    "src"."category" AS "__sqlfeat_value_category"
  FROM READ_PARQUET('/repo/data/click_events.parquet') AS "src"
  WHERE
    NOT "src"."user_id" IS NULL
    AND CASE
      WHEN NOT TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."event_time" IS NULL
      THEN TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."event_time") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END <= (
      SELECT
        MAX("__sqlfeat_ts")
      FROM "spine_keys__user_id"
    )
    AND CASE
      WHEN NOT TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."event_time" IS NULL
      THEN TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."event_time") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END >= (
      SELECT
        MIN("__sqlfeat_ts")
      FROM "spine_keys__user_id"
    ) - INTERVAL '2592000' SECOND
), "user_click_stats__aggregates" AS (
  SELECT
    "spine_keys__user_id"."user_id",
    "spine_keys__user_id"."__sqlfeat_ts",
    CAST(COUNT("s"."__sqlfeat_value_click_id") AS BIGINT) AS "clicks_30d",
    CAST(AVG(
      CASE
        WHEN "s"."__sqlfeat_event_ts" > "spine_keys__user_id"."__sqlfeat_ts" - INTERVAL '604800' SECOND
        THEN "s"."__sqlfeat_value_dwell_seconds"
      END
    ) AS DOUBLE) AS "dwell_seconds_mean_7d"
  FROM "spine_keys__user_id"
  JOIN "user_click_stats__source" AS "s"
    ON "spine_keys__user_id"."user_id" = "s"."user_id"
    AND "s"."__sqlfeat_event_ts" <= "spine_keys__user_id"."__sqlfeat_ts"
    AND "s"."__sqlfeat_event_ts" > "spine_keys__user_id"."__sqlfeat_ts" - INTERVAL '2592000' SECOND
  GROUP BY
    "spine_keys__user_id"."user_id",
    "spine_keys__user_id"."__sqlfeat_ts"
), "user_click_stats__last" AS (
  SELECT
    "spine_keys__user_id"."user_id",
    "spine_keys__user_id"."__sqlfeat_ts",
    CAST("s"."__sqlfeat_value_category" AS TEXT) AS "category_last_1d"
  FROM "spine_keys__user_id"
  JOIN "user_click_stats__source" AS "s"
    ON "spine_keys__user_id"."user_id" = "s"."user_id"
    AND "s"."__sqlfeat_event_ts" <= "spine_keys__user_id"."__sqlfeat_ts"
    AND "s"."__sqlfeat_event_ts" > "spine_keys__user_id"."__sqlfeat_ts" - INTERVAL '86400' SECOND
  QUALIFY
    ROW_NUMBER() OVER (
      PARTITION BY "spine_keys__user_id"."user_id", "spine_keys__user_id"."__sqlfeat_ts"
      ORDER BY "s"."__sqlfeat_event_ts" DESC, "s"."__sqlfeat_created_ts" DESC
    ) = 1
)
SELECT
  "spine".*,
  COALESCE("user_click_stats__aggregates"."clicks_30d", 0) AS "clicks_30d",
  "user_click_stats__aggregates"."dwell_seconds_mean_7d" AS "dwell_seconds_mean_7d",
  "user_click_stats__last"."category_last_1d" AS "category_last_1d"
FROM "spine"
LEFT JOIN "user_click_stats__aggregates"
  ON "spine"."user_id" = "user_click_stats__aggregates"."user_id"
  AND CASE
    WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
    OR "spine"."event_timestamp" IS NULL
    THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
    ELSE CASE
      WHEN YEAR("spine"."event_timestamp") >= 2262
      THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
    END
  END = "user_click_stats__aggregates"."__sqlfeat_ts"
LEFT JOIN "user_click_stats__last"
  ON "spine"."user_id" = "user_click_stats__last"."user_id"
  AND CASE
    WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
    OR "spine"."event_timestamp" IS NULL
    THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
    ELSE CASE
      WHEN YEAR("spine"."event_timestamp") >= 2262
      THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
    END
  END = "user_click_stats__last"."__sqlfeat_ts";
