import { parseArgs } from "node:util";
import { decodeJwt } from "jose";
import { mintToken, ROLES, type Role } from "../platform/auth.js";
import { loadConfig } from "../platform/config.js";

/** `npm run token -- --sub alice --roles viewer,host --region US --name Alice` prints a development JWT. */
const { values } = parseArgs({
  options: {
    sub: { type: "string" },
    name: { type: "string" },
    picture: { type: "string" },
    roles: { type: "string", default: "viewer" },
    region: { type: "string", default: "US" },
    adult: { type: "string", default: "true" },
    expires: { type: "string", default: "12h" },
  },
});
if (!values.sub) {
  console.error("usage: npm run token -- --sub <id> [--name <name>] [--picture <avatar url>] [--roles viewer,host,admin] [--region US] [--adult true|false] [--expires 12h]");
  process.exit(2);
}
const roles = values.roles!.split(",").map((r) => r.trim()) as Role[];
const unknown = roles.filter((r) => !ROLES.includes(r));
if (unknown.length) {
  console.error(`unknown role(s): ${unknown.join(", ")} (known: ${ROLES.join(", ")})`);
  process.exit(2);
}
const token = await mintToken(
  { sub: values.sub, name: values.name ?? values.sub, picture: values.picture, roles, region: values.region!.toUpperCase(), adult: values.adult !== "false" },
  { expiresIn: values.expires },
);
// Never print a token the services would refuse (JWT_MAX_LIFETIME_SECONDS).
const { iat, exp } = decodeJwt(token);
const max = loadConfig().jwtMaxLifetimeSeconds;
if (exp! - iat! > max) {
  console.error(`--expires ${values.expires} is longer than the accepted maximum of ${max} seconds (JWT_MAX_LIFETIME_SECONDS)`);
  process.exit(2);
}
console.log(token);
