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
), "user_clicks_30d__source" AS (
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
    CAST("src"."click_count" AS BIGINT) AS "click_count",
    CAST("src"."top_category" AS TEXT) AS "top_category"
  FROM READ_PARQUET('/repo/data/user_clicks.parquet') AS "src"
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
), "user_clicks_30d__pit" AS (
  SELECT
    "spine_keys__user_id"."user_id",
    "spine_keys__user_id"."__sqlfeat_ts",
    "s"."click_count" AS "click_count",
    "s"."top_category" AS "top_category"
  FROM "spine_keys__user_id"
  JOIN "user_clicks_30d__source" AS "s"
    ON "spine_keys__user_id"."user_id" = "s"."user_id"
    AND "s"."__sqlfeat_event_ts" <= "spine_keys__user_id"."__sqlfeat_ts"
    AND "s"."__sqlfeat_event_ts" >= "spine_keys__user_id"."__sqlfeat_ts" - INTERVAL '2592000' SECOND
  QUALIFY
    ROW_NUMBER() OVER (
      PARTITION BY "spine_keys__user_id"."user_id", "spine_keys__user_id"."__sqlfeat_ts"
      ORDER BY "s"."__sqlfeat_event_ts" DESC, "s"."__sqlfeat_created_ts" DESC
    ) = 1
)
SELECT
  "spine".*,
  "user_clicks_30d__pit"."click_count" AS "click_count",
  "user_clicks_30d__pit"."top_category" AS "top_category"
FROM "spine"
LEFT JOIN "user_clicks_30d__pit"
  ON "spine"."user_id" = "user_clicks_30d__pit"."user_id"
  AND CASE
    WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
    OR "spine"."event_timestamp" IS NULL
    THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
    ELSE CASE
      WHEN YEAR("spine"."event_timestamp") >= 2262
      THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
    END
  END = "user_clicks_30d__pit"."__sqlfeat_ts";
