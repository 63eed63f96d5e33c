// The diesel view of migrations/. It mirrors the tables column for column, with the
// types both backends share (ids are BIGINT on PostgreSQL and INTEGER, which is 64-bit,
// on SQLite). `schema_matches_the_migrations` in db/mod.rs checks it against a migrated
// database, so an edit here that drifts from the SQL fails the tests.

diesel::table! {
    services (code) {
        code -> Text,
        name -> Text,
        group_name -> Text,
        description -> Text,
        keywords -> Text,
        service_type -> Text,
        agency -> Text,
        road_surface -> Bool,
        default_severity -> Integer,
        sla_days -> Text,
        duplicate_radius_m -> Double,
        attributes -> Text,
        area -> Nullable<Text>,
        position -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
        translations -> Text,
    }
}

diesel::table! {
    crews (id) {
        id -> BigInt,
        name -> Text,
        depot_lat -> Double,
        depot_lon -> Double,
        service_codes -> Text,
        daily_capacity -> Integer,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        name -> Text,
        role -> Text,
        key_hash -> Text,
        crew_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    wards (id) {
        id -> BigInt,
        name -> Text,
        population -> Nullable<Integer>,
        income_index -> Nullable<Double>,
        geometry -> Nullable<Text>,
        vulnerability -> Double,
    }
}

diesel::table! {
    priority_weights (id) {
        id -> BigInt,
        weights -> Text,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    inspection_plans (week_start) {
        week_start -> Date,
        planned_at -> Timestamp,
        orders -> Integer,
    }
}

diesel::table! {
    segments (id) {
        id -> BigInt,
        external_id -> Nullable<Text>,
        name -> Nullable<Text>,
        road_class -> Text,
        surface -> Nullable<Text>,
        length_m -> Double,
        aadt -> Nullable<Integer>,
        bus_route -> Bool,
        last_resurfaced -> Nullable<Date>,
        ward_id -> Nullable<BigInt>,
        neighbourhood -> Nullable<Text>,
        geometry -> Text,
        min_lon -> Double,
        min_lat -> Double,
        max_lon -> Double,
        max_lat -> Double,
        properties -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        cell -> BigInt,
    }
}

diesel::table! {
    issues (id) {
        id -> BigInt,
        service_code -> Text,
        status -> Text,
        lat -> Double,
        lon -> Double,
        segment_id -> Nullable<BigInt>,
        reporter_count -> Integer,
        first_reported_at -> Timestamp,
        updated_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        first_request_id -> Nullable<BigInt>,
        cell -> BigInt,
        answers -> Nullable<Text>,
    }
}

diesel::table! {
    issue_reporters (issue_id, reporter) {
        issue_id -> BigInt,
        reporter -> Text,
    }
}

diesel::table! {
    requests (id) {
        id -> BigInt,
        token -> Nullable<Text>,
        accepted_at -> Nullable<Timestamp>,
        service_code -> Text,
        status -> Text,
        status_notes -> Nullable<Text>,
        description -> Nullable<Text>,
        agency_responsible -> Nullable<Text>,
        service_notice -> Nullable<Text>,
        lat -> Nullable<Double>,
        lon -> Nullable<Double>,
        address -> Nullable<Text>,
        address_id -> Nullable<Text>,
        zipcode -> Nullable<Text>,
        media_url -> Nullable<Text>,
        attributes -> Text,
        email -> Nullable<Text>,
        device_id -> Nullable<Text>,
        account_id -> Nullable<Text>,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        phone -> Nullable<Text>,
        api_key_id -> Nullable<BigInt>,
        segment_id -> Nullable<BigInt>,
        snap_distance_m -> Nullable<Double>,
        issue_id -> Nullable<BigInt>,
        requested_at -> Timestamp,
        updated_at -> Timestamp,
        expected_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        cell -> Nullable<BigInt>,
        channel -> Nullable<Text>,
    }
}

diesel::table! {
    request_updates (id) {
        id -> BigInt,
        request_id -> BigInt,
        status -> Text,
        description -> Nullable<Text>,
        media_url -> Nullable<Text>,
        author -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    media (id) {
        id -> Text,
        content_type -> Text,
        size_bytes -> Integer,
        sha256 -> Text,
        bytes -> Binary,
        created_at -> Timestamp,
    }
}

diesel::table! {
    work_orders (id) {
        id -> BigInt,
        issue_id -> Nullable<BigInt>,
        segment_id -> Nullable<BigInt>,
        kind -> Text,
        status -> Text,
        crew_id -> Nullable<BigInt>,
        priority -> Double,
        priority_breakdown -> Text,
        due_at -> Nullable<Timestamp>,
        notes -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
        service_code -> Text,
        lat -> Double,
        lon -> Double,
        cell -> BigInt,
        photo_urls -> Text,
        materials -> Text,
        labour_minutes -> Integer,
        outcome -> Nullable<Text>,
        reopens -> Integer,
    }
}

diesel::table! {
    work_order_events (id) {
        id -> BigInt,
        work_order_id -> BigInt,
        actor -> Text,
        field -> Text,
        old_value -> Nullable<Text>,
        new_value -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    maintenance_history (id) {
        id -> BigInt,
        segment_id -> BigInt,
        work_order_id -> Nullable<BigInt>,
        kind -> Text,
        performed_at -> Timestamp,
        notes -> Nullable<Text>,
        source -> Nullable<Text>,
        external_id -> Nullable<Text>,
    }
}

diesel::table! {
    import_runs (id) {
        id -> BigInt,
        source -> Text,
        kind -> Text,
        started_at -> Timestamp,
        finished_at -> Timestamp,
        files -> Text,
        summary -> Text,
    }
}

diesel::table! {
    segment_ratings (id) {
        id -> BigInt,
        segment_id -> BigInt,
        source -> Text,
        rated_on -> Date,
        section -> Text,
        overall -> Nullable<Double>,
        cracking -> Nullable<Double>,
        patching -> Nullable<Double>,
        last_overlay_year -> Nullable<Integer>,
        pavement_type -> Nullable<Text>,
        rater -> Nullable<Text>,
        imported_at -> Timestamp,
    }
}

diesel::table! {
    sensor_readings (id) {
        id -> BigInt,
        segment_id -> BigInt,
        kind -> Text,
        source -> Text,
        value -> Double,
        observed_at -> Timestamp,
    }
}

diesel::table! {
    weather_daily (station, day) {
        station -> Text,
        day -> Date,
        tmin_c -> Double,
        tmax_c -> Double,
        precipitation_mm -> Double,
    }
}

diesel::table! {
    model_versions (id) {
        id -> BigInt,
        version -> Text,
        kind -> Text,
        trained_from -> Date,
        trained_to -> Date,
        features -> Text,
        hyperparameters -> Text,
        metrics -> Text,
        artifact -> Binary,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    risk_scores (segment_id, model_version_id, scored_at) {
        segment_id -> BigInt,
        model_version_id -> BigInt,
        scored_at -> Timestamp,
        probability -> Double,
        explanation -> Text,
    }
}

diesel::table! {
    risk_cell_scores (model_version_id, scored_at, cell_x, cell_y) {
        model_version_id -> BigInt,
        scored_at -> Timestamp,
        cell_x -> BigInt,
        cell_y -> BigInt,
        west -> Double,
        south -> Double,
        east -> Double,
        north -> Double,
        probability -> Double,
        explanation -> Text,
    }
}

diesel::table! {
    job_leases (job) {
        job -> Text,
        holder -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    summaries (name) {
        name -> Text,
        body -> Text,
        computed_at -> Timestamp,
    }
}

diesel::table! {
    neighbourhoods (id) {
        id -> BigInt,
        ward_id -> Nullable<BigInt>,
        name -> Text,
        population -> Integer,
        income_index -> Double,
        density_per_km2 -> Double,
    }
}

diesel::table! {
    demo_cities (id) {
        id -> BigInt,
        seed -> BigInt,
        size -> Text,
        start_date -> Date,
        end_date -> Date,
        loaded_at -> Timestamp,
    }
}

diesel::table! {
    truth_neighbourhoods (neighbourhood_id) {
        neighbourhood_id -> BigInt,
        reporting_propensity -> Double,
    }
}

diesel::table! {
    truth_segments (segment_id) {
        segment_id -> BigInt,
        drainage -> Double,
    }
}

diesel::table! {
    truth_potholes (id) {
        id -> BigInt,
        segment_id -> BigInt,
        lat -> Double,
        lon -> Double,
        formed_on -> Date,
        repaired_on -> Nullable<Date>,
        reports -> Integer,
    }
}

diesel::table! {
    truth_report_potholes (request_id) {
        request_id -> BigInt,
        pothole_id -> BigInt,
    }
}

diesel::table! {
    truth_segment_weeks (segment_id, week_start) {
        segment_id -> BigInt,
        week_start -> Date,
        pci -> Double,
        hazard_28d -> Double,
    }
}

diesel::joinable!(request_updates -> requests (request_id));
diesel::joinable!(requests -> services (service_code));
diesel::joinable!(requests -> segments (segment_id));
diesel::joinable!(feedback -> requests (request_id));

diesel::table! {
    request_sources (request_id) {
        request_id -> BigInt,
        source -> Text,
        external_id -> Text,
        channel -> Nullable<Text>,
        imported_at -> Timestamp,
    }
}

diesel::table! {
    installation (id) {
        id -> BigInt,
        source_salt -> Text,
        written_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        channel -> Text,
        kind -> Text,
        recipient -> Text,
        subscription_id -> Nullable<BigInt>,
        payload -> Text,
        created_at -> Timestamp,
        next_attempt_at -> Timestamp,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        failed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    subscriptions (id) {
        id -> BigInt,
        email -> Text,
        area -> Text,
        lat -> Nullable<Double>,
        lon -> Nullable<Double>,
        radius_m -> Nullable<Double>,
        ward_id -> Nullable<BigInt>,
        request_id -> Nullable<BigInt>,
        service_codes -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        confirmed_at -> Nullable<Timestamp>,
        unsubscribed_at -> Nullable<Timestamp>,
        told_until -> Nullable<Timestamp>,
        last_sent_at -> Nullable<Timestamp>,
        lang -> Text,
    }
}

diesel::table! {
    feedback (id) {
        id -> BigInt,
        request_id -> BigInt,
        issue_id -> Nullable<BigInt>,
        work_order_id -> Nullable<BigInt>,
        crew_id -> Nullable<BigInt>,
        ward_id -> Nullable<BigInt>,
        service_code -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        answered_at -> Nullable<Timestamp>,
        fixed -> Nullable<Bool>,
        reason -> Nullable<Text>,
        satisfaction -> Nullable<Integer>,
    }
}

diesel::table! {
    webhooks (id) {
        id -> BigInt,
        url -> Text,
        secret -> Text,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
        last_request_id -> BigInt,
        last_update_id -> BigInt,
    }
}

diesel::joinable!(request_sources -> requests (request_id));
diesel::joinable!(segment_ratings -> segments (segment_id));

diesel::allow_tables_to_appear_in_same_query!(
    services,
    crews,
    api_keys,
    wards,
    segments,
    issues,
    requests,
    request_updates,
    media,
    work_orders,
    work_order_events,
    maintenance_history,
    import_runs,
    segment_ratings,
    sensor_readings,
    weather_daily,
    model_versions,
    risk_scores,
    risk_cell_scores,
    job_leases,
    summaries,
    neighbourhoods,
    demo_cities,
    truth_neighbourhoods,
    truth_segments,
    truth_potholes,
    truth_report_potholes,
    truth_segment_weeks,
    issue_reporters,
    priority_weights,
    inspection_plans,
    request_sources,
    installation,
    outbox,
    subscriptions,
    feedback,
    webhooks,
);

// Ward statistics group reports by their segment's ward.
diesel::allow_columns_to_appear_in_same_group_by_clause!(
    segments::ward_id,
    requests::status,
    requests::service_code,
    requests::channel,
);
