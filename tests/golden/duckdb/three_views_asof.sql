WITH "spine" AS (
  SELECT
    *
  FROM training_rows
  WHERE
    split = 'train'
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
    CAST("src"."click_count" AS BIGINT) AS "user_clicks_30d__click_count"
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
            WHEN NOT TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS) IS NULL OR "spine"."ts" IS NULL
            THEN TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS)
            ELSE CASE
              WHEN YEAR("spine"."ts") >= 2262
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
            WHEN NOT TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS) IS NULL OR "spine"."ts" IS NULL
            THEN TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS)
            ELSE CASE
              WHEN YEAR("spine"."ts") >= 2262
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
), "user_profile__source" AS (
  SELECT
    "src"."user_id" AS "user_id",
    CASE
      WHEN NOT TRY_CAST("src"."updated_at" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."updated_at" IS NULL
      THEN TRY_CAST("src"."updated_at" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."updated_at") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END AS "__sqlfeat_event_ts",
    CAST("src"."is_premium" AS BOOLEAN) AS "user_profile__is_premium"
  FROM "warehouse"."profiles" AS "src"
  WHERE
    NOT "src"."user_id" IS NULL
    AND CASE
      WHEN NOT TRY_CAST("src"."updated_at" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."updated_at" IS NULL
      THEN TRY_CAST("src"."updated_at" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."updated_at") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END <= (
      SELECT
        MAX(
          CASE
            WHEN NOT TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS) IS NULL OR "spine"."ts" IS NULL
            THEN TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS)
            ELSE CASE
              WHEN YEAR("spine"."ts") >= 2262
              THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
              ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
            END
          END
        )
      FROM "spine"
    )
), "user_merchant_spend__source" AS (
  SELECT
    "src"."uid" AS "user_id",
    "src"."merchant_id" AS "merchant_id",
    CASE
      WHEN NOT TRY_CAST("src"."paid_at" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."paid_at" IS NULL
      THEN TRY_CAST("src"."paid_at" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."paid_at") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END AS "__sqlfeat_event_ts",
    CAST("src"."amount" AS DOUBLE) AS "user_merchant_spend__spend"
  FROM (
    SELECT
      *
    FROM payments
    WHERE
      status = 'ok'
  ) AS "src"
  WHERE
    NOT "src"."uid" IS NULL
    AND NOT "src"."merchant_id" IS NULL
    AND CASE
      WHEN NOT TRY_CAST("src"."paid_at" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."paid_at" IS NULL
      THEN TRY_CAST("src"."paid_at" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."paid_at") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END <= (
      SELECT
        MAX(
          CASE
            WHEN NOT TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS) IS NULL OR "spine"."ts" IS NULL
            THEN TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS)
            ELSE CASE
              WHEN YEAR("spine"."ts") >= 2262
              THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
              ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
            END
          END
        )
      FROM "spine"
    )
    AND CASE
      WHEN NOT TRY_CAST("src"."paid_at" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."paid_at" IS NULL
      THEN TRY_CAST("src"."paid_at" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."paid_at") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END >= (
      SELECT
        MIN(
          CASE
            WHEN NOT TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS) IS NULL OR "spine"."ts" IS NULL
            THEN TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS)
            ELSE CASE
              WHEN YEAR("spine"."ts") >= 2262
              THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
              ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
            END
          END
        )
      FROM "spine"
    ) - INTERVAL '43200' SECOND
)
SELECT
  "spine".*,
  CASE
    WHEN "user_clicks_30d"."__sqlfeat_event_ts" >= CASE
      WHEN NOT TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS) IS NULL OR "spine"."ts" IS NULL
      THEN TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("spine"."ts") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END - INTERVAL '2592000' SECOND
    THEN "user_clicks_30d"."user_clicks_30d__click_count"
  END AS "user_clicks_30d__click_count",
  "user_profile"."user_profile__is_premium" AS "user_profile__is_premium",
  CASE
    WHEN "user_merchant_spend"."__sqlfeat_event_ts" >= CASE
      WHEN NOT TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS) IS NULL OR "spine"."ts" IS NULL
      THEN TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("spine"."ts") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END - INTERVAL '43200' SECOND
    THEN "user_merchant_spend"."user_merchant_spend__spend"
  END AS "user_merchant_spend__spend"
FROM "spine"
ASOF LEFT JOIN "user_clicks_30d__latest" AS "user_clicks_30d"
  ON "spine"."user_id" = "user_clicks_30d"."user_id"
  AND CASE
    WHEN NOT TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS) IS NULL OR "spine"."ts" IS NULL
    THEN TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS)
    ELSE CASE
      WHEN YEAR("spine"."ts") >= 2262
      THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
    END
  END >= "user_clicks_30d"."__sqlfeat_event_ts"
ASOF LEFT JOIN "user_profile__source" AS "user_profile"
  ON "spine"."user_id" = "user_profile"."user_id"
  AND CASE
    WHEN NOT TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS) IS NULL OR "spine"."ts" IS NULL
    THEN TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS)
    ELSE CASE
      WHEN YEAR("spine"."ts") >= 2262
      THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
    END
  END >= "user_profile"."__sqlfeat_event_ts"
ASOF LEFT JOIN "user_merchant_spend__source" AS "user_merchant_spend"
  ON "spine"."user_id" = "user_merchant_spend"."user_id"
  AND "spine"."merchant_id" = "user_merchant_spend"."merchant_id"
  AND CASE
    WHEN NOT TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS) IS NULL OR "spine"."ts" IS NULL
    THEN TRY_CAST("spine"."ts" AS TIMESTAMPTZ_NS)
    ELSE CASE
      WHEN YEAR("spine"."ts") >= 2262
      THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
    END
  END >= "user_merchant_spend"."__sqlfeat_event_ts";
