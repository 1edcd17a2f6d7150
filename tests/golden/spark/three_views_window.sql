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
), `user_clicks_30d__pit` AS (
  SELECT
    `user_id`,
    `__sqlfeat_ts`,
    `user_clicks_30d__click_count`
  FROM (
    SELECT
      `spine_keys__user_id`.`user_id`,
      `spine_keys__user_id`.`__sqlfeat_ts`,
      `s`.`user_clicks_30d__click_count` AS `user_clicks_30d__click_count`,
      ROW_NUMBER() OVER (
        PARTITION BY `spine_keys__user_id`.`user_id`, `spine_keys__user_id`.`__sqlfeat_ts`
        ORDER BY `s`.`__sqlfeat_event_ts` DESC, `s`.`__sqlfeat_created_ts` DESC
      ) AS _w
    FROM `spine_keys__user_id`
    JOIN `user_clicks_30d__source` AS `s`
      ON `spine_keys__user_id`.`user_id` = `s`.`user_id`
      AND `s`.`__sqlfeat_event_ts` <= `spine_keys__user_id`.`__sqlfeat_ts`
      AND `s`.`__sqlfeat_event_ts` >= `spine_keys__user_id`.`__sqlfeat_ts` - INTERVAL '2592000' SECOND
  ) AS _t
  WHERE
    _w = 1
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
), `user_profile__pit` AS (
  SELECT
    `user_id`,
    `__sqlfeat_ts`,
    `user_profile__is_premium`
  FROM (
    SELECT
      `spine_keys__user_id`.`user_id`,
      `spine_keys__user_id`.`__sqlfeat_ts`,
      `s`.`user_profile__is_premium` AS `user_profile__is_premium`,
      ROW_NUMBER() OVER (
        PARTITION BY `spine_keys__user_id`.`user_id`, `spine_keys__user_id`.`__sqlfeat_ts`
        ORDER BY `s`.`__sqlfeat_event_ts` DESC
      ) AS _w
    FROM `spine_keys__user_id`
    JOIN `user_profile__source` AS `s`
      ON `spine_keys__user_id`.`user_id` = `s`.`user_id`
      AND `s`.`__sqlfeat_event_ts` <= `spine_keys__user_id`.`__sqlfeat_ts`
  ) AS _t
  WHERE
    _w = 1
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
), `user_merchant_spend__pit` AS (
  SELECT
    `user_id`,
    `merchant_id`,
    `__sqlfeat_ts`,
    `user_merchant_spend__spend`
  FROM (
    SELECT
      `spine_keys__user_id__merchant_id`.`user_id`,
      `spine_keys__user_id__merchant_id`.`merchant_id`,
      `spine_keys__user_id__merchant_id`.`__sqlfeat_ts`,
      `s`.`user_merchant_spend__spend` AS `user_merchant_spend__spend`,
      ROW_NUMBER() OVER (
        PARTITION BY `spine_keys__user_id__merchant_id`.`user_id`, `spine_keys__user_id__merchant_id`.`merchant_id`, `spine_keys__user_id__merchant_id`.`__sqlfeat_ts`
        ORDER BY `s`.`__sqlfeat_event_ts` DESC
      ) AS _w
    FROM `spine_keys__user_id__merchant_id`
    JOIN `user_merchant_spend__source` AS `s`
      ON `spine_keys__user_id__merchant_id`.`user_id` = `s`.`user_id`
      AND `spine_keys__user_id__merchant_id`.`merchant_id` = `s`.`merchant_id`
      AND `s`.`__sqlfeat_event_ts` <= `spine_keys__user_id__merchant_id`.`__sqlfeat_ts`
      AND `s`.`__sqlfeat_event_ts` >= `spine_keys__user_id__merchant_id`.`__sqlfeat_ts` - INTERVAL '43200' SECOND
  ) AS _t
  WHERE
    _w = 1
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
