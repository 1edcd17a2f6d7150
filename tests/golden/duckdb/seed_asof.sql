WITH "spine" AS (
  SELECT
    *
  FROM "entity_df"
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
    CAST("src"."avg_dwell_seconds" AS REAL) AS "avg_dwell_seconds",
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
        MAX(
          CASE
            WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
            OR "spine"."event_timestamp" IS NULL
            THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
            ELSE CASE
              WHEN YEAR("spine"."event_timestamp") >= 2262
              THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
              ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
            END
          END
        )
      FROM "spine"
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
        MIN(
          CASE
            WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
            OR "spine"."event_timestamp" IS NULL
            THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
            ELSE CASE
              WHEN YEAR("spine"."event_timestamp") >= 2262
              THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
              ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
            END
          END
        )
      FROM "spine"
    ) - INTERVAL '2592000' SECOND
), "user_clicks_30d__latest" AS (
  SELECT
    *
  FROM "user_clicks_30d__source"
  QUALIFY
    ROW_NUMBER() OVER (PARTITION BY "user_id", "__sqlfeat_event_ts" ORDER BY "__sqlfeat_created_ts" DESC) = 1
)
SELECT
  "spine".*,
  CASE
    WHEN "user_clicks_30d"."__sqlfeat_event_ts" >= CASE
      WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
      OR "spine"."event_timestamp" IS NULL
      THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("spine"."event_timestamp") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END - INTERVAL '2592000' SECOND
    THEN "user_clicks_30d"."click_count"
  END AS "click_count",
  CASE
    WHEN "user_clicks_30d"."__sqlfeat_event_ts" >= CASE
      WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
      OR "spine"."event_timestamp" IS NULL
      THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("spine"."event_timestamp") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END - INTERVAL '2592000' SECOND
    THEN "user_clicks_30d"."avg_dwell_seconds"
  END AS "avg_dwell_seconds",
  CASE
    WHEN "user_clicks_30d"."__sqlfeat_event_ts" >= CASE
      WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
      OR "spine"."event_timestamp" IS NULL
      THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("spine"."event_timestamp") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END - INTERVAL '2592000' SECOND
    THEN "user_clicks_30d"."top_category"
  END AS "top_category"
FROM "spine"
ASOF LEFT JOIN "user_clicks_30d__latest" AS "user_clicks_30d"
  ON "spine"."user_id" = "user_clicks_30d"."user_id"
  AND CASE
    WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
    OR "spine"."event_timestamp" IS NULL
    THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
    ELSE CASE
      WHEN YEAR("spine"."event_timestamp") >= 2262
      THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
    END
  END >= "user_clicks_30d"."__sqlfeat_event_ts";
