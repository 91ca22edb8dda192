// Checker licenses and governance (docs/checkers.md, Licenses; docs/governance.md): their own function,
// the only one that writes the governance table (settling functions read the parameters in force).
import { IdSchema } from '../domain/schemas';
import { CreateProposalSchema, DelegateLicenseSchema, MintLicensesSchema, ReinstateLicenseSchema, TransferLicenseSchema, VoteSchema } from '../domain/governance/schemas';
import { castVote, createProposal, getProposal, parametersView, vetoProposal } from '../usecases/governance';
import { RegisterCheckerSchema, SignedCheckerReportSchema } from '../domain/checker/network';
import { listCheckers, myAssignments, registerChecker, submitReport } from '../usecases/checker-network';
import { delegateLicense, getLicense, listLicenses, mintLicenses, reinstateLicense, transferLicense } from '../usecases/licenses';
import { parseWith } from './kit/problem';
import { routeGroup, type RouteFn } from './kit/router';
import { lambdaRoot } from '../wiring/lambda-root';

const id = (v: string | undefined, name = 'id') => parseWith(IdSchema, v, name);

export const routes: Record<string, RouteFn> = {
  'POST /v1/licenses': async (req, d) => ({ status: 201, body: await mintLicenses(d, req.caller, parseWith(MintLicensesSchema, req.body)) }),
  'GET /v1/licenses': async (req, d) => ({ status: 200, body: await listLicenses(d, req.caller) }),
  'GET /v1/licenses/{id}': async (req, d) => ({ status: 200, body: await getLicense(d, req.caller, id(req.params.id)) }),
  'POST /v1/licenses/{id}/transfer': async (req, d) => ({
    status: 200,
    body: { license: await transferLicense(d, req.caller, id(req.params.id), parseWith(TransferLicenseSchema, req.body).to) },
  }),
  'POST /v1/licenses/{id}/delegate': async (req, d) => ({
    status: 200,
    body: { license: await delegateLicense(d, req.caller, id(req.params.id), parseWith(DelegateLicenseSchema, req.body)) },
  }),
  // an admin lifts a checker network suspension (docs/checkers.md, Scoring and suspension); the body is optional
  'POST /v1/licenses/{id}/reinstate': async (req, d) => ({ status: 200, body: await reinstateLicense(d, req.caller, id(req.params.id), parseWith(ReinstateLicenseSchema, req.body ?? {})) }),
  'POST /v1/proposals': async (req, d) => {
    const proposal = await createProposal(d, req.caller, parseWith(CreateProposalSchema, req.body));
    return { status: 201, body: { proposal }, headers: { location: `/v1/proposals/${proposal.id}` } };
  },
  'GET /v1/proposals/{id}': async (req, d) => ({ status: 200, body: await getProposal(d, req.caller, id(req.params.id)) }),
  'POST /v1/proposals/{id}/votes': async (req, d) => ({ status: 201, body: await castVote(d, req.caller, id(req.params.id), parseWith(VoteSchema, req.body).choice) }),
  'POST /v1/proposals/{id}/veto': async (req, d) => ({ status: 200, body: await vetoProposal(d, req.caller, id(req.params.id)) }),
  'GET /v1/parameters': async (_req, d) => ({ status: 200, body: await parametersView(d) }),
  'POST /v1/checkers': async (req, d) => ({ status: 201, body: await registerChecker(d, req.caller, parseWith(RegisterCheckerSchema, req.body)) }),
  'GET /v1/checkers': async (req, d) => ({ status: 200, body: await listCheckers(d, req.caller) }),
  'GET /v1/checkers/assignments': async (req, d) => ({ status: 200, body: await myAssignments(d, req.caller) }),
  'POST /v1/checkers/reports': async (req, d) => ({ status: 201, body: await submitReport(d, req.caller, parseWith(SignedCheckerReportSchema, req.body)) }),
};

export const handler = routeGroup('governance', routes, lambdaRoot());
