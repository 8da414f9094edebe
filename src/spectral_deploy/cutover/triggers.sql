-- Queries of the workflow triggers of a deploy (spectral_deploy.cutover.triggers).

-- cut_over_deploy_of_tag --
-- The newest deploy of a tag that flipped the CNAME (open in its hold window, or closed).
SELECT id, outcome
FROM {schema}.deploys
WHERE tag = %(tag)s AND flipped_at IS NOT NULL
ORDER BY id DESC
LIMIT 1;

-- rollback_deploying_tag --
-- The newest rollback whose plan deploys this tag (Class 3's deploy-prior step).
SELECT id, finished_at IS NULL AS running
FROM {schema}.rollbacks
WHERE plan @> jsonb_build_array(
    jsonb_build_object('id', 'deploy-prior', 'params', jsonb_build_object('tag', %(tag)s::text)))
ORDER BY id DESC
LIMIT 1;
