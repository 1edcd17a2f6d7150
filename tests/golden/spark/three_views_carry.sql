WITH `spine` AS (
  SELECT
    *
  FROM training_rows
  WHERE
    split = 'train'
), `spine_keys__user_id` AS (
  SELECT DISTINCT
    `spine`.`user_id`,
    CAST(`spine`.`ts` AS TIMESTAMP) AS `__sqlfeat_ts`
  FROM `spine`
), `user_clicks_30d__source` AS (
  SELECT
    `src`.`user_id` AS `user_id`,
    CAST(`src`.`event_time` AS TIMESTAMP) AS `__sqlfeat_event_ts`,
    CAST(`src`.`created` AS TIMESTAMP) AS `__sqlfeat_created_ts`,
    CAST(`src`.`click_count` AS BIGINT) AS `user_clicks_30d__click_count`
  FROM `analytics`.`user_clicks` AS `src`
  WHERE
    NOT `src`.`user_id` IS NULL
    AND CAST(`src`.`event_time` AS TIMESTAMP) <= (
      SELECT
        MAX(`__sqlfeat_ts`)
      FROM `spine_keys__user_id`
    )
    AND CAST(`src`.`event_time` AS TIMESTAMP) >= (
      SELECT
        MIN(`__sqlfeat_ts`)
      FROM `spine_keys__user_id`
    ) - INTERVAL '2592000' SECOND
), `user_clicks_30d__numbered` AS (
  SELECT
    `user_clicks_30d__source`.*,
    ROW_NUMBER() OVER (
      PARTITION BY `user_clicks_30d__source`.`user_id`
      ORDER BY `user_clicks_30d__source`.`__sqlfeat_event_ts` ASC, `user_clicks_30d__source`.`__sqlfeat_created_ts` ASC
    ) AS `__sqlfeat_src_row`
  FROM `user_clicks_30d__source`
), `user_clicks_30d__carried` AS (
  SELECT
    `u`.`user_id`,
    `u`.`__sqlfeat_ts`,
    `u`.`__sqlfeat_kind`,
    MAX(`u`.`__sqlfeat_src_row`) OVER (
      PARTITION BY `u`.`user_id`
      ORDER BY `u`.`__sqlfeat_ts`, `u`.`__sqlfeat_kind`
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS `__sqlfeat_src_row`
  FROM (
    SELECT
      `user_clicks_30d__numbered`.`user_id`,
      `user_clicks_30d__numbered`.`__sqlfeat_event_ts` AS `__sqlfeat_ts`,
      0 AS `__sqlfeat_kind`,
      `user_clicks_30d__numbered`.`__sqlfeat_src_row`
    FROM `user_clicks_30d__numbered`
    UNION ALL
    SELECT
      `spine_keys__user_id`.`user_id`,
      `spine_keys__user_id`.`__sqlfeat_ts`,
      1 AS `__sqlfeat_kind`,
      CAST(NULL AS BIGINT) AS `__sqlfeat_src_row`
    FROM `spine_keys__user_id`
  ) AS `u`
), `user_clicks_30d__pit` AS (
  SELECT
    `user_clicks_30d__carried`.`user_id`,
    `user_clicks_30d__carried`.`__sqlfeat_ts`,
    CASE
      WHEN `s`.`__sqlfeat_event_ts` >= `user_clicks_30d__carried`.`__sqlfeat_ts` - INTERVAL '2592000' SECOND
      THEN `s`.`user_clicks_30d__click_count`
    END AS `user_clicks_30d__click_count`
  FROM `user_clicks_30d__carried`
  LEFT JOIN `user_clicks_30d__numbered` AS `s`
    ON `user_clicks_30d__carried`.`user_id` = `s`.`user_id`
    AND `s`.`__sqlfeat_src_row` = `user_clicks_30d__carried`.`__sqlfeat_src_row`
  WHERE
    `user_clicks_30d__carried`.`__sqlfeat_kind` = 1
), `user_profile__source` AS (
  SELECT
    `src`.`user_id` AS `user_id`,
    CAST(`src`.`updated_at` AS TIMESTAMP) AS `__sqlfeat_event_ts`,
    CAST(`src`.`is_premium` AS BOOLEAN) AS `user_profile__is_premium`
  FROM `warehouse`.`profiles` AS `src`
  WHERE
    NOT `src`.`user_id` IS NULL
    AND CAST(`src`.`updated_at` AS TIMESTAMP) <= (
      SELECT
        MAX(`__sqlfeat_ts`)
      FROM `spine_keys__user_id`
    )
), `user_profile__numbered` AS (
  SELECT
    `user_profile__source`.*,
    ROW_NUMBER() OVER (
      PARTITION BY `user_profile__source`.`user_id`
      ORDER BY `user_profile__source`.`__sqlfeat_event_ts` ASC
    ) AS `__sqlfeat_src_row`
  FROM `user_profile__source`
), `user_profile__carried` AS (
  SELECT
    `u`.`user_id`,
    `u`.`__sqlfeat_ts`,
    `u`.`__sqlfeat_kind`,
    MAX(`u`.`__sqlfeat_src_row`) OVER (
      PARTITION BY `u`.`user_id`
      ORDER BY `u`.`__sqlfeat_ts`, `u`.`__sqlfeat_kind`
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS `__sqlfeat_src_row`
  FROM (
    SELECT
      `user_profile__numbered`.`user_id`,
      `user_profile__numbered`.`__sqlfeat_event_ts` AS `__sqlfeat_ts`,
      0 AS `__sqlfeat_kind`,
      `user_profile__numbered`.`__sqlfeat_src_row`
    FROM `user_profile__numbered`
    UNION ALL
    SELECT
      `spine_keys__user_id`.`user_id`,
      `spine_keys__user_id`.`__sqlfeat_ts`,
      1 AS `__sqlfeat_kind`,
      CAST(NULL AS BIGINT) AS `__sqlfeat_src_row`
    FROM `spine_keys__user_id`
  ) AS `u`
), `user_profile__pit` AS (
  SELECT
    `user_profile__carried`.`user_id`,
    `user_profile__carried`.`__sqlfeat_ts`,
    `s`.`user_profile__is_premium` AS `user_profile__is_premium`
  FROM `user_profile__carried`
  LEFT JOIN `user_profile__numbered` AS `s`
    ON `user_profile__carried`.`user_id` = `s`.`user_id`
    AND `s`.`__sqlfeat_src_row` = `user_profile__carried`.`__sqlfeat_src_row`
  WHERE
    `user_profile__carried`.`__sqlfeat_kind` = 1
), `spine_keys__user_id__merchant_id` AS (
  SELECT DISTINCT
    `spine`.`user_id`,
    `spine`.`merchant_id`,
    CAST(`spine`.`ts` AS TIMESTAMP) AS `__sqlfeat_ts`
  FROM `spine`
), `user_merchant_spend__source` AS (
  SELECT
    `src`.`uid` AS `user_id`,
    `src`.`merchant_id` AS `merchant_id`,
    CAST(`src`.`paid_at` AS TIMESTAMP) AS `__sqlfeat_event_ts`,
    CAST(`src`.`amount` AS DOUBLE) AS `user_merchant_spend__spend`
  FROM (
    SELECT
      *
    FROM payments
    WHERE
      status = 'ok'
  ) AS `src`
  WHERE
    NOT `src`.`uid` IS NULL
    AND NOT `src`.`merchant_id` IS NULL
    AND CAST(`src`.`paid_at` AS TIMESTAMP) <= (
      SELECT
        MAX(`__sqlfeat_ts`)
      FROM `spine_keys__user_id__merchant_id`
    )
    AND CAST(`src`.`paid_at` AS TIMESTAMP) >= (
      SELECT
        MIN(`__sqlfeat_ts`)
      FROM `spine_keys__user_id__merchant_id`
    ) - INTERVAL '43200' SECOND
), `user_merchant_spend__numbered` AS (
  SELECT
    `user_merchant_spend__source`.*,
    ROW_NUMBER() OVER (
      PARTITION BY `user_merchant_spend__source`.`user_id`, `user_merchant_spend__source`.`merchant_id`
      ORDER BY `user_merchant_spend__source`.`__sqlfeat_event_ts` ASC
    ) AS `__sqlfeat_src_row`
  FROM `user_merchant_spend__source`
), `user_merchant_spend__carried` AS (
  SELECT
    `u`.`user_id`,
    `u`.`merchant_id`,
    `u`.`__sqlfeat_ts`,
    `u`.`__sqlfeat_kind`,
    MAX(`u`.`__sqlfeat_src_row`) OVER (
      PARTITION BY `u`.`user_id`, `u`.`merchant_id`
      ORDER BY `u`.`__sqlfeat_ts`, `u`.`__sqlfeat_kind`
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS `__sqlfeat_src_row`
  FROM (
    SELECT
      `user_merchant_spend__numbered`.`user_id`,
      `user_merchant_spend__numbered`.`merchant_id`,
      `user_merchant_spend__numbered`.`__sqlfeat_event_ts` AS `__sqlfeat_ts`,
      0 AS `__sqlfeat_kind`,
      `user_merchant_spend__numbered`.`__sqlfeat_src_row`
    FROM `user_merchant_spend__numbered`
    UNION ALL
    SELECT
      `spine_keys__user_id__merchant_id`.`user_id`,
      `spine_keys__user_id__merchant_id`.`merchant_id`,
      `spine_keys__user_id__merchant_id`.`__sqlfeat_ts`,
      1 AS `__sqlfeat_kind`,
      CAST(NULL AS BIGINT) AS `__sqlfeat_src_row`
    FROM `spine_keys__user_id__merchant_id`
  ) AS `u`
), `user_merchant_spend__pit` AS (
  SELECT
    `user_merchant_spend__carried`.`user_id`,
    `user_merchant_spend__carried`.`merchant_id`,
    `user_merchant_spend__carried`.`__sqlfeat_ts`,
    CASE
      WHEN `s`.`__sqlfeat_event_ts` >= `user_merchant_spend__carried`.`__sqlfeat_ts` - INTERVAL '43200' SECOND
      THEN `s`.`user_merchant_spend__spend`
    END AS `user_merchant_spend__spend`
  FROM `user_merchant_spend__carried`
  LEFT JOIN `user_merchant_spend__numbered` AS `s`
    ON `user_merchant_spend__carried`.`user_id` = `s`.`user_id`
    AND `user_merchant_spend__carried`.`merchant_id` = `s`.`merchant_id`
    AND `s`.`__sqlfeat_src_row` = `user_merchant_spend__carried`.`__sqlfeat_src_row`
  WHERE
    `user_merchant_spend__carried`.`__sqlfeat_kind` = 1
)
SELECT
  `spine`.*,
  `user_clicks_30d__pit`.`user_clicks_30d__click_count` AS `user_clicks_30d__click_count`,
  `user_profile__pit`.`user_profile__is_premium` AS `user_profile__is_premium`,
  `user_merchant_spend__pit`.`user_merchant_spend__spend` AS `user_merchant_spend__spend`
FROM `spine`
LEFT JOIN `user_clicks_30d__pit`
  ON `spine`.`user_id` = `user_clicks_30d__pit`.`user_id`
  AND CAST(`spine`.`ts` AS TIMESTAMP) = `user_clicks_30d__pit`.`__sqlfeat_ts`
LEFT JOIN `user_profile__pit`
  ON `spine`.`user_id` = `user_profile__pit`.`user_id`
  AND CAST(`spine`.`ts` AS TIMESTAMP) = `user_profile__pit`.`__sqlfeat_ts`
LEFT JOIN `user_merchant_spend__pit`
  ON `spine`.`user_id` = `user_merchant_spend__pit`.`user_id`
  AND `spine`.`merchant_id` = `user_merchant_spend__pit`.`merchant_id`
  AND CAST(`spine`.`ts` AS TIMESTAMP) = `user_merchant_spend__pit`.`__sqlfeat_ts`;
